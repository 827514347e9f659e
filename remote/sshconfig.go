package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// OpenSSH defaults that apply when neither Options nor the ssh_config file
// set a value. ConnectTimeout and ServerAliveInterval are off in OpenSSH
// itself, but a file system must notice a dead server, so gosshfs enables
// both.
const (
	defaultPort                = 22
	defaultConnectTimeout      = 30 * time.Second
	defaultServerAliveInterval = 15 * time.Second
	defaultServerAliveCountMax = 3
)

// defaultIdentityNames are the keys in ~/.ssh that are tried when no
// IdentityFile is given, in OpenSSH's order restricted to the key types
// x/crypto/ssh can use.
var defaultIdentityNames = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// identitySource records where an identity file came from, which decides
// whether a missing file is an error (Options), a warning (ssh_config) or
// expected (defaults).
type identitySource int

const (
	identityFromOptions identitySource = iota
	identityFromConfig
	identityDefault
)

type identityFile struct {
	path   string
	source identitySource
}

// settings are the connection parameters after Options, the ssh_config file
// and the defaults have been merged. All paths are absolute.
type settings struct {
	alias          string // Options.Host as typed; ssh_config Host patterns match it
	hostName       string
	port           int
	user           string
	identityFiles  []identityFile
	identitiesOnly bool
	// knownHostsFiles is empty when UserKnownHostsFile is "none".
	knownHostsFiles       []string
	hostKeyAlias          string
	hashKnownHosts        bool
	strictHostKeyChecking string // "yes", "accept-new" or "no"
	connectTimeout        time.Duration
	serverAliveInterval   time.Duration // 0 disables keepalives
	serverAliveCountMax   int

	// proxyJump is the ProxyJump value and proxyCommand the ProxyCommand
	// with its tokens expanded. At most one is set, and "none" is
	// resolved to "".
	proxyJump    string
	proxyCommand string
}

// configEnv is the parsed ssh_config file and the home directory that
// every host of one Dialer is resolved against.
type configEnv struct {
	config *ssh_config.Config
	path   string
	home   string
}

// configLookup reads keywords for one host from a parsed ssh_config file.
// A nil config returns no values.
type configLookup struct {
	config *ssh_config.Config
	path   string
	alias  string
}

func (l configLookup) get(keyword string) (string, error) {
	if l.config == nil {
		return "", nil
	}
	value, err := l.config.Get(l.alias, keyword)
	if err != nil {
		return "", fmt.Errorf("ssh_config file %q: reading %s for host %q: %w", l.path, keyword, l.alias, err)
	}
	return value, nil
}

func (l configLookup) getAll(keyword string) ([]string, error) {
	if l.config == nil {
		return nil, nil
	}
	values, err := l.config.GetAll(l.alias, keyword)
	if err != nil {
		return nil, fmt.Errorf("ssh_config file %q: reading %s for host %q: %w", l.path, keyword, l.alias, err)
	}
	return values, nil
}

func (l configLookup) invalid(keyword, value, expected string) error {
	return fmt.Errorf("ssh_config file %q: invalid %s %q for host %q: expected %s", l.path, keyword, value, l.alias, expected)
}

// resolveSettings merges o, the ssh_config file it names and the defaults.
// Fields set in o win over the file.
func resolveSettings(o Options) (settings, configEnv, error) {
	if o.Host == "" {
		return settings{}, configEnv{}, errors.New("no host given: name the server as user@host:/dir")
	}
	env, err := loadConfigEnv(o.ConfigFile)
	if err != nil {
		return settings{}, configEnv{}, err
	}
	s, err := resolveHost(o, Options{}, env)
	return s, env, err
}

func loadConfigEnv(file string) (configEnv, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return configEnv{}, fmt.Errorf("cannot find the home directory for ~/.ssh: %w", err)
	}
	config, configPath, err := loadSSHConfig(file, home)
	if err != nil {
		return configEnv{}, err
	}
	return configEnv{config: config, path: configPath, home: home}, nil
}

// resolveHost resolves the settings of the host o names. A field is taken
// from o, else from the ssh_config file, else from fallback, else from the
// defaults. Jump hosts get the -o options as fallback, so that the config
// file's settings for a jump host win over them.
func resolveHost(o, fallback Options, env configEnv) (settings, error) {
	lookup := configLookup{config: env.config, path: env.path, alias: o.Host}
	s := settings{alias: o.Host}
	if err := s.resolveEndpoint(o, lookup); err != nil {
		return settings{}, err
	}
	tokens := s.tokenValues(env.home)
	if err := s.resolveIdentities(o, fallback, lookup, tokens); err != nil {
		return settings{}, err
	}
	if err := s.resolveHostKeys(o, fallback, lookup, tokens); err != nil {
		return settings{}, err
	}
	if err := s.resolveTimers(o, fallback, lookup); err != nil {
		return settings{}, err
	}
	if err := s.resolveProxy(o, lookup, tokens); err != nil {
		return settings{}, err
	}
	return s, nil
}

// loadSSHConfig parses the ssh_config file named by -F. "none" disables the
// file, and "" means ~/.ssh/config, which may be missing.
//
// NOTE: unlike ssh(1), this does not read /etc/ssh/ssh_config, and
// github.com/kevinburke/ssh_config v1.6.0 rejects Match criteria other
// than "all" and "host", so such a file needs -F none or its own copy.
func loadSSHConfig(file, home string) (*ssh_config.Config, string, error) {
	if file == "none" {
		return nil, "", nil
	}
	path := file
	if path == "" {
		path = filepath.Join(home, ".ssh", "config")
	} else {
		expanded, err := expandTilde(path, home)
		if err != nil {
			return nil, "", fmt.Errorf("ssh_config file %q: %w", file, err)
		}
		path = expanded
	}

	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && file == "" {
		return nil, "", nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("ssh_config file %q not found: check the -F path", file)
	}
	if err != nil {
		return nil, "", fmt.Errorf("cannot read ssh_config file: %w", err)
	}

	config, err := ssh_config.DecodeBytes(data)
	if err != nil {
		return nil, "", fmt.Errorf("invalid ssh_config file %q: %v: fix the file, or pass -F none to ignore it", path, causeText(err))
	}
	return config, path, nil
}

// resolveEndpoint sets hostName, port and user.
func (s *settings) resolveEndpoint(o Options, lookup configLookup) error {
	s.hostName = o.Host
	hostName, err := lookup.get("HostName")
	if err != nil {
		return err
	}
	if hostName != "" {
		// HostName accepts only %h (the name as typed) and %%.
		expanded, err := expandTokens(hostName, map[byte]string{'h': o.Host})
		if err != nil {
			return lookup.invalid("HostName", hostName, "a host name with only %h or %% tokens")
		}
		s.hostName = expanded
	}

	s.port = o.Port
	if s.port == 0 {
		s.port = defaultPort
		value, err := lookup.get("Port")
		if err != nil {
			return err
		}
		if value != "" {
			port, err := strconv.Atoi(value)
			if err != nil || port < 1 || port > 65535 {
				return lookup.invalid("Port", value, "a number from 1 to 65535")
			}
			s.port = port
		}
	}

	s.user = o.User
	if s.user == "" {
		value, err := lookup.get("User")
		if err != nil {
			return err
		}
		s.user = value
	}
	if s.user == "" {
		name, err := localUserName()
		if err != nil {
			return err
		}
		s.user = name
	}
	return nil
}

// tokenValues returns the values of the percent tokens that ssh_config
// accepts in IdentityFile and UserKnownHostsFile.
func (s *settings) tokenValues(home string) map[byte]string {
	localUser, _ := localUserName()
	localHost, _ := os.Hostname()
	shortHost, _, _ := strings.Cut(localHost, ".")
	return map[byte]string{
		'd': home,
		'u': localUser,
		'h': s.hostName,
		'r': s.user,
		'p': strconv.Itoa(s.port),
		'n': s.alias,
		'l': localHost,
		'L': shortHost,
		'i': strconv.Itoa(os.Getuid()),
	}
}

// resolveIdentities sets identityFiles and identitiesOnly. Files from
// Options come first, then the ssh_config IdentityFile entries, and the
// default keys only when neither names a file.
func (s *settings) resolveIdentities(o, fallback Options, lookup configLookup, tokens map[byte]string) error {
	home := tokens['d']
	for _, path := range o.IdentityFiles {
		expanded, err := expandTilde(path, home)
		if err != nil {
			return fmt.Errorf("identity file %q: %w", path, err)
		}
		if err := s.addIdentity(expanded, identityFromOptions); err != nil {
			return err
		}
	}

	values, err := lookup.getAll("IdentityFile")
	if err != nil {
		return err
	}
	for _, value := range values {
		if strings.EqualFold(value, "none") {
			continue
		}
		expanded, err := expandPath(value, tokens)
		if err != nil {
			return lookup.invalid("IdentityFile", value, fmt.Sprintf("a path (%v)", err))
		}
		if err := s.addIdentity(expanded, identityFromConfig); err != nil {
			return err
		}
	}

	for _, path := range fallback.IdentityFiles {
		if len(values) > 0 {
			break
		}
		expanded, err := expandTilde(path, home)
		if err != nil {
			return fmt.Errorf("identity file %q: %w", path, err)
		}
		if err := s.addIdentity(expanded, identityFromOptions); err != nil {
			return err
		}
	}

	if len(s.identityFiles) == 0 {
		for _, name := range defaultIdentityNames {
			s.identityFiles = append(s.identityFiles, identityFile{filepath.Join(home, ".ssh", name), identityDefault})
		}
	}

	only := firstNonEmpty(o.IdentitiesOnly)
	if only == "" {
		value, err := lookup.get("IdentitiesOnly")
		if err != nil {
			return err
		}
		only = firstNonEmpty(value, fallback.IdentitiesOnly)
	}
	switch strings.ToLower(only) {
	case "", "no", "false":
	case "yes", "true":
		s.identitiesOnly = true
	default:
		return lookup.invalid("IdentitiesOnly", only, "yes or no")
	}
	return nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *settings) addIdentity(path string, source identitySource) error {
	absolute, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("identity file %q: %w", path, err)
	}
	for _, known := range s.identityFiles {
		if known.path == absolute {
			return nil
		}
	}
	s.identityFiles = append(s.identityFiles, identityFile{absolute, source})
	return nil
}

// resolveHostKeys sets the known_hosts files, HostKeyAlias, HashKnownHosts
// and StrictHostKeyChecking.
func (s *settings) resolveHostKeys(o, fallback Options, lookup configLookup, tokens map[byte]string) error {
	home := tokens['d']
	files := o.KnownHostsFiles
	fromConfig := false
	if files == nil {
		value, err := lookup.get("UserKnownHostsFile")
		if err != nil {
			return err
		}
		files = strings.Fields(value)
		fromConfig = len(files) > 0
	}
	if len(files) == 0 && o.KnownHostsFiles == nil {
		files = fallback.KnownHostsFiles
	}
	if len(files) == 0 {
		files = []string{"~/.ssh/known_hosts"}
	}
	for _, file := range files {
		if strings.EqualFold(file, "none") {
			continue
		}
		expanded, err := expandTilde(file, home)
		if fromConfig {
			expanded, err = expandPath(file, tokens)
		}
		if err != nil {
			return fmt.Errorf("known_hosts file %q: %w", file, err)
		}
		absolute, err := filepath.Abs(expanded)
		if err != nil {
			return fmt.Errorf("known_hosts file %q: %w", file, err)
		}
		s.knownHostsFiles = append(s.knownHostsFiles, absolute)
	}

	alias, err := lookup.get("HostKeyAlias")
	if err != nil {
		return err
	}
	s.hostKeyAlias = alias
	if s.hashKnownHosts, err = lookupYesNo(lookup, "HashKnownHosts"); err != nil {
		return err
	}

	strict := o.StrictHostKeyChecking
	if strict == "" {
		if strict, err = lookup.get("StrictHostKeyChecking"); err != nil {
			return err
		}
		if strict == "" {
			strict = fallback.StrictHostKeyChecking
		}
	}
	normalized, ok := normalizeStrictHostKeyChecking(strict)
	if !ok && o.StrictHostKeyChecking != "" {
		return fmt.Errorf("invalid StrictHostKeyChecking %q: use yes, accept-new or no", strict)
	}
	if !ok {
		return lookup.invalid("StrictHostKeyChecking", strict, "yes, accept-new, no or ask")
	}
	s.strictHostKeyChecking = normalized
	return nil
}

// normalizeStrictHostKeyChecking maps the ssh_config spellings to "yes",
// "accept-new" or "no".
func normalizeStrictHostKeyChecking(value string) (string, bool) {
	switch strings.ToLower(value) {
	case "", "yes", "true":
		return "yes", true
	case "ask":
		// NOTE: a mount cannot ask the user to confirm a new key, so "ask"
		// rejects unknown keys like "yes".
		return "yes", true
	case "accept-new":
		return "accept-new", true
	case "no", "off", "false":
		return "no", true
	}
	return "", false
}

// resolveTimers sets the connect timeout and the keepalive parameters.
func (s *settings) resolveTimers(o, fallback Options, lookup configLookup) error {
	s.connectTimeout = o.ConnectTimeout
	if s.connectTimeout == 0 {
		timeout, err := lookupDuration(lookup, "ConnectTimeout", orDefault(fallback.ConnectTimeout, defaultConnectTimeout))
		if err != nil {
			return err
		}
		s.connectTimeout = timeout
	}
	if s.connectTimeout <= 0 {
		// "ConnectTimeout 0" in a config file waits as long as the kernel does.
		s.connectTimeout = 0
	}

	s.serverAliveInterval = o.ServerAliveInterval
	if s.serverAliveInterval == 0 {
		// As in OpenSSH, an explicit "ServerAliveInterval 0" disables keepalives.
		interval, err := lookupDuration(lookup, "ServerAliveInterval", orDefault(fallback.ServerAliveInterval, defaultServerAliveInterval))
		if err != nil {
			return err
		}
		s.serverAliveInterval = interval
	}

	s.serverAliveCountMax = o.ServerAliveCountMax
	if s.serverAliveCountMax == 0 {
		s.serverAliveCountMax = orDefault(fallback.ServerAliveCountMax, defaultServerAliveCountMax)
		value, err := lookup.get("ServerAliveCountMax")
		if err != nil {
			return err
		}
		if value != "" {
			count, err := strconv.Atoi(value)
			if err != nil || count < 1 {
				return lookup.invalid("ServerAliveCountMax", value, "a positive number")
			}
			s.serverAliveCountMax = count
		}
	}
	return nil
}

// orDefault returns value, or fallback when value is zero.
func orDefault[T comparable](value, fallback T) T {
	var zero T
	if value == zero {
		return fallback
	}
	return value
}

func lookupDuration(lookup configLookup, keyword string, fallback time.Duration) (time.Duration, error) {
	value, err := lookup.get(keyword)
	if err != nil || value == "" {
		return fallback, err
	}
	d, err := parseConfigDuration(value)
	if err != nil {
		return 0, lookup.invalid(keyword, value, "seconds, or a time such as 1m30s")
	}
	return d, nil
}

func lookupYesNo(lookup configLookup, keyword string) (bool, error) {
	value, err := lookup.get(keyword)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(value) {
	case "", "no", "false":
		return false, nil
	case "yes", "true":
		return true, nil
	}
	return false, lookup.invalid(keyword, value, "yes or no")
}

// parseConfigDuration parses an ssh_config time value as sshd_config(5)
// "TIME FORMATS" defines it: a sequence of numbers, each with an optional
// unit s, m, h, d or w (seconds when omitted), that are added up.
func parseConfigDuration(value string) (time.Duration, error) {
	if value == "" {
		return 0, errors.New("empty time")
	}
	units := map[byte]time.Duration{
		's': time.Second, 'm': time.Minute, 'h': time.Hour,
		'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
	}
	// maxTotal is far above any useful timeout and keeps the sum of two
	// terms below the int64 limit of time.Duration.
	const maxTotal = (1 << 31) * time.Second
	var total time.Duration
	for rest := value; rest != ""; {
		digits := 0
		for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
			digits++
		}
		if digits == 0 {
			return 0, fmt.Errorf("invalid time %q", value)
		}
		number, err := strconv.ParseInt(rest[:digits], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("time %q is too large", value)
		}
		unit := time.Second
		rest = rest[digits:]
		if rest != "" {
			if u, ok := units[lowerASCII(rest[0])]; ok {
				unit = u
				rest = rest[1:]
			}
		}
		if number > int64(maxTotal/unit) {
			return 0, fmt.Errorf("time %q is too large", value)
		}
		total += time.Duration(number) * unit
		if total > maxTotal {
			return 0, fmt.Errorf("time %q is too large", value)
		}
	}
	return total, nil
}

func lowerASCII(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// expandPath expands ~ and the percent tokens in an ssh_config path.
func expandPath(path string, tokens map[byte]string) (string, error) {
	expanded, err := expandTilde(path, tokens['d'])
	if err != nil {
		return "", err
	}
	return expandTokens(expanded, tokens)
}

// expandTokens replaces %x tokens in s with values['x'] and %% with %. An
// unknown token or a trailing lone % is an error.
func expandTokens(s string, values map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q ends with a lone %%", s)
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		value, ok := values[s[i]]
		if !ok {
			return "", fmt.Errorf("unknown token %%%c in %q", s[i], s)
		}
		b.WriteString(value)
	}
	return b.String(), nil
}

// expandTilde replaces a leading "~" or "~/" with home and "~name/" with
// that user's home directory.
func expandTilde(path, home string) (string, error) {
	if !strings.HasPrefix(path, "~") {
		return path, nil
	}
	name, rest, _ := strings.Cut(path[1:], "/")
	dir := home
	if name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("cannot expand %q: %w", path, err)
		}
		dir = u.HomeDir
	}
	if dir == "" {
		return "", fmt.Errorf("cannot expand %q: no home directory", path)
	}
	return filepath.Join(dir, rest), nil
}

// localUserName returns $USER, or the name of the process's user.
func localUserName() (string, error) {
	if name := os.Getenv("USER"); name != "" {
		return name, nil
	}
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("cannot find the local user name, so give the remote user as user@host: %w", err)
	}
	return u.Username, nil
}

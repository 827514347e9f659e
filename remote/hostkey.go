package remote

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyChecker verifies server host keys against the known_hosts files and
// applies StrictHostKeyChecking. It rereads the files on every check, so
// edits made while a mount runs apply to the next connection.
type hostKeyChecker struct {
	// Immutable after newHostKeyChecker.
	files    []string // the first file receives keys added by accept-new
	strict   string   // "yes", "accept-new" or "no"
	hashName bool     // HashKnownHosts: write hashed host names
	address  string   // host:port looked up in known_hosts
	name     string   // address as known_hosts spells it, for messages
	host     string   // the dialled HostName and port, for messages
	port     int
	logger   *slog.Logger

	// appendMu serializes accept-new so that concurrent dials add a new key
	// once.
	appendMu sync.Mutex
}

func newHostKeyChecker(s settings, logger *slog.Logger) *hostKeyChecker {
	// OpenSSH looks a HostKeyAlias up without a port.
	address := net.JoinHostPort(s.hostName, strconv.Itoa(s.port))
	if s.hostKeyAlias != "" {
		address = net.JoinHostPort(s.hostKeyAlias, strconv.Itoa(defaultPort))
	}
	return &hostKeyChecker{
		files:    s.knownHostsFiles,
		strict:   s.strictHostKeyChecking,
		hashName: s.hashKnownHosts,
		address:  address,
		name:     knownhosts.Normalize(address),
		host:     s.hostName,
		port:     s.port,
		logger:   logger,
	}
}

// hostKeyVerdict is the outcome of a host key check that lets the
// connection continue.
type hostKeyVerdict int

const (
	hostKeyKnown hostKeyVerdict = iota
	hostKeyAdded
	// hostKeyInsecure means StrictHostKeyChecking=no let an unknown or changed
	// key through. A changed key must not receive passwords.
	hostKeyInsecure
	hostKeyInsecureChanged
)

// check verifies key for the server at remote. A returned error is a
// *DialError for unknown, changed and revoked keys.
func (c *hostKeyChecker) check(remote net.Addr, key ssh.PublicKey) (hostKeyVerdict, error) {
	database, err := c.load()
	if err != nil {
		return 0, err
	}
	err = database(c.address, remote, key)
	if err == nil {
		return hostKeyKnown, nil
	}

	var keyErr *knownhosts.KeyError
	var revokedErr *knownhosts.RevokedError
	switch {
	case errors.As(err, &revokedErr):
		return 0, c.newError(KindHostKeyRevoked, key, revokedErr.Revoked.Filename, revokedErr.Revoked.Line, err)
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		return c.acceptUnknown(remote, key, err)
	case errors.As(err, &keyErr):
		return c.acceptChanged(key, keyErr)
	}
	return 0, fmt.Errorf("remote: check host key of %s: %w", c.name, err)
}

func (c *hostKeyChecker) acceptUnknown(remote net.Addr, key ssh.PublicKey, cause error) (hostKeyVerdict, error) {
	switch c.strict {
	case "accept-new":
		return c.addKey(remote, key)
	case "no":
		c.logger.Warn("accepting an unknown host key without checking it because StrictHostKeyChecking=no",
			"host", c.name, "key", describeKey(key))
		return hostKeyInsecure, nil
	}
	file := defaultKnownHostsFile()
	if len(c.files) > 0 {
		file = c.files[0]
	}
	return 0, c.newError(KindHostKeyUnknown, key, file, 0, cause)
}

func (c *hostKeyChecker) acceptChanged(key ssh.PublicKey, keyErr *knownhosts.KeyError) (hostKeyVerdict, error) {
	// Report a known key of the presented type when there is one, because
	// that is the line the user must remove.
	known := keyErr.Want[0]
	for _, want := range keyErr.Want {
		if want.Key.Type() == key.Type() {
			known = want
			break
		}
	}
	changed := c.newError(KindHostKeyChanged, key, known.Filename, known.Line, keyErr)
	if c.strict != "no" {
		return 0, changed
	}
	c.logger.Warn(changed.Error() + " (connecting anyway because StrictHostKeyChecking=no; password authentication is disabled)")
	return hostKeyInsecureChanged, nil
}

// addKey appends key to the first known_hosts file after checking again,
// under appendMu, that no concurrent dial added a key for the host.
func (c *hostKeyChecker) addKey(remote net.Addr, key ssh.PublicKey) (hostKeyVerdict, error) {
	c.appendMu.Lock()
	defer c.appendMu.Unlock()

	database, err := c.load()
	if err != nil {
		return 0, err
	}
	var keyErr *knownhosts.KeyError
	err = database(c.address, remote, key)
	if err == nil {
		return hostKeyKnown, nil
	}
	if errors.As(err, &keyErr) && len(keyErr.Want) > 0 {
		return c.acceptChanged(key, keyErr)
	}

	if len(c.files) == 0 {
		c.logger.Warn("accepting a new host key that cannot be saved because UserKnownHostsFile is none",
			"host", c.name, "key", describeKey(key))
		return hostKeyAdded, nil
	}
	file := c.files[0]
	if err := appendKnownHost(file, c.knownHostsLine(key)); err != nil {
		return 0, fmt.Errorf("cannot add the host key of %s to %s: %w", c.name, file, err)
	}
	c.logger.Info("added new host key to known_hosts because StrictHostKeyChecking=accept-new",
		"host", c.name, "key", describeKey(key), "file", file)
	return hostKeyAdded, nil
}

func (c *hostKeyChecker) knownHostsLine(key ssh.PublicKey) string {
	hostField := c.name
	if c.hashName {
		hostField = knownhosts.HashHostname(c.name)
	}
	return hostField + " " + key.Type() + " " + base64.StdEncoding.EncodeToString(key.Marshal())
}

func (c *hostKeyChecker) newError(kind DialErrorKind, key ssh.PublicKey, file string, line int, cause error) *DialError {
	return &DialError{
		Kind:           kind,
		Host:           c.host,
		Port:           c.port,
		HostKey:        key,
		KnownHostsName: c.name,
		KnownHostsFile: file,
		KnownHostsLine: line,
		Err:            cause,
	}
}

// load parses the known_hosts files. Missing files count as empty. A file
// without a single valid line is skipped with a warning, as OpenSSH skips
// lines it cannot parse.
func (c *hostKeyChecker) load() (ssh.HostKeyCallback, error) {
	var usable []string
	for _, file := range c.files {
		_, err := knownhosts.New(file)
		var pathErr *fs.PathError
		switch {
		case err == nil:
			usable = append(usable, file)
		case errors.Is(err, fs.ErrNotExist):
		case errors.As(err, &pathErr):
			return nil, fmt.Errorf("cannot read known_hosts file: %w", err)
		default:
			c.logger.Warn("ignoring known_hosts file without valid lines", "file", file, "err", err)
		}
	}
	database, err := knownhosts.New(usable...)
	if err != nil {
		return nil, fmt.Errorf("cannot read known_hosts file: %w", err)
	}
	return database, nil
}

// probeKey is a key that no known_hosts file lists for a real host. Checking
// it returns the keys that are known for the host.
var probeKey = func() ssh.PublicKey {
	key, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	if err != nil {
		panic("BUG: cannot build the known_hosts probe key: " + err.Error())
	}
	return key
}()

// hostKeyAlgorithms returns the host key algorithms to offer, the types
// already known for this host first. Without this order x/crypto/ssh may
// negotiate a key type that known_hosts does not list, and the check
// would wrongly report a changed key.
func (c *hostKeyChecker) hostKeyAlgorithms() ([]string, error) {
	database, err := c.load()
	if err != nil {
		return nil, err
	}
	var knownTypes []string
	var keyErr *knownhosts.KeyError
	probeAddr := &net.TCPAddr{IP: net.IPv4zero, Port: c.port}
	if errors.As(database(c.address, probeAddr, probeKey), &keyErr) {
		for _, want := range keyErr.Want {
			knownTypes = append(knownTypes, want.Key.Type())
		}
	}
	certAuthority, err := c.hasCertAuthority()
	if err != nil {
		return nil, err
	}
	return orderHostKeyAlgorithms(knownTypes, certAuthority), nil
}

// hasCertAuthority reports whether a known_hosts file contains a
// @cert-authority line. Host certificates are negotiated only then, because
// without an authority a certificate can never verify, while the plain key
// of the same server might.
func (c *hostKeyChecker) hasCertAuthority() (bool, error) {
	for _, file := range c.files {
		f, err := os.Open(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("cannot read known_hosts file: %w", err)
		}
		found, err := containsCertAuthority(f)
		f.Close()
		if err != nil {
			return false, fmt.Errorf("cannot read known_hosts file %s: %w", file, err)
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}

func containsCertAuthority(r io.Reader) (bool, error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		if bytes.HasPrefix(bytes.TrimSpace(scanner.Bytes()), []byte("@cert-authority")) {
			return true, nil
		}
	}
	if errors.Is(scanner.Err(), bufio.ErrTooLong) {
		return false, nil
	}
	return false, scanner.Err()
}

// preferredHostKeyAlgorithms is OpenSSH 9's default order of plain host
// key algorithms, which differs from x/crypto/ssh's (ECDSA first). Using it
// makes accept-new store, and error messages show, the key type that ssh(1)
// would show for the same server.
var preferredHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256,
	ssh.KeyAlgoECDSA384,
	ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512,
	ssh.KeyAlgoRSASHA256,
}

// orderHostKeyAlgorithms lists the signature algorithms for knownTypes,
// then preferredHostKeyAlgorithms, then every other algorithm x/crypto/ssh
// supports. Certificate algorithms come first when certAuthority is set
// and are left out otherwise.
func orderHostKeyAlgorithms(knownTypes []string, certAuthority bool) []string {
	supported := ssh.SupportedAlgorithms().HostKeys
	isCert := func(algorithm string) bool { return strings.Contains(algorithm, "-cert-") }

	var algorithms []string
	add := func(algorithm string) {
		if !slices.Contains(algorithms, algorithm) {
			algorithms = append(algorithms, algorithm)
		}
	}
	if certAuthority {
		for _, algorithm := range supported {
			if isCert(algorithm) {
				add(algorithm)
			}
		}
	}
	for _, keyType := range knownTypes {
		if keyType == ssh.KeyAlgoRSA {
			// An RSA key signs with SHA-2 by preference. Plain "ssh-rsa"
			// (SHA-1) is kept last for servers older than OpenSSH 7.2.
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
			continue
		}
		if slices.Contains(supported, keyType) {
			add(keyType)
		}
	}
	for _, algorithm := range preferredHostKeyAlgorithms {
		if slices.Contains(supported, algorithm) {
			add(algorithm)
		}
	}
	for _, algorithm := range supported {
		if !isCert(algorithm) {
			add(algorithm)
		}
	}
	return algorithms
}

// appendKnownHost appends line to file, creating the file with mode 0600
// and its directory with mode 0700 when they are missing.
func appendKnownHost(file, line string) error {
	dir := filepath.Dir(file)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}

	prefix := ""
	if endsWithoutNewline(file) {
		prefix = "\n"
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(prefix + line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// endsWithoutNewline reports whether file is a non-empty regular file whose
// last byte is not a newline, so an appended line needs one first.
func endsWithoutNewline(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
		return false
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, info.Size()-1); err != nil {
		return false
	}
	return last[0] != '\n'
}

// defaultKnownHostsFile returns ~/.ssh/known_hosts as an absolute path.
func defaultKnownHostsFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "~/.ssh/known_hosts"
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// displayPath shortens a path under the home directory to "~/...".
func displayPath(path string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == "/" {
		return path
	}
	if rest, ok := strings.CutPrefix(path, home+string(filepath.Separator)); ok {
		return "~/" + rest
	}
	return path
}

package remote

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const aliasConfig = `# test configuration
Host myalias
  HostName 127.0.0.1
  Port 2222
  User alice
  IdentityFile ~/.ssh/id_%h_%r
  IdentityFile %d/keys/%u-%p-%n
  UserKnownHostsFile ~/kh1 %d/kh2
  StrictHostKeyChecking accept-new
  ConnectTimeout 7
  ServerAliveInterval 1m30s
  ServerAliveCountMax 5
  IdentitiesOnly yes

Host *
  User bob
  Port 23
  IdentityFile ~/.ssh/from_wildcard
`

func TestResolveSettingsAlias(t *testing.T) {
	home := setupHome(t)
	configFile := filepath.Join(home, "config")
	writeFile(t, configFile, aliasConfig)

	s, _, err := resolveSettings(Options{Host: "myalias", ConfigFile: configFile})
	if err != nil {
		t.Fatal(err)
	}

	if s.hostName != "127.0.0.1" {
		t.Errorf("hostName = %q, want 127.0.0.1", s.hostName)
	}
	if s.port != 2222 {
		t.Errorf("port = %d, want 2222", s.port)
	}
	if s.user != "alice" {
		t.Errorf("user = %q, want alice", s.user)
	}
	var identities []string
	for _, identity := range s.identityFiles {
		identities = append(identities, identity.path)
	}
	wantIdentities := []string{
		filepath.Join(home, ".ssh", "id_127.0.0.1_alice"),
		filepath.Join(home, "keys", "tester-2222-myalias"),
		filepath.Join(home, ".ssh", "from_wildcard"),
	}
	if !slices.Equal(identities, wantIdentities) {
		t.Errorf("identity files = %q, want %q", identities, wantIdentities)
	}
	wantKnownHosts := []string{filepath.Join(home, "kh1"), filepath.Join(home, "kh2")}
	if !slices.Equal(s.knownHostsFiles, wantKnownHosts) {
		t.Errorf("known_hosts files = %q, want %q", s.knownHostsFiles, wantKnownHosts)
	}
	if s.strictHostKeyChecking != "accept-new" {
		t.Errorf("StrictHostKeyChecking = %q, want accept-new", s.strictHostKeyChecking)
	}
	if s.connectTimeout != 7*time.Second {
		t.Errorf("connectTimeout = %v, want 7s", s.connectTimeout)
	}
	if s.serverAliveInterval != 90*time.Second {
		t.Errorf("serverAliveInterval = %v, want 1m30s", s.serverAliveInterval)
	}
	if s.serverAliveCountMax != 5 {
		t.Errorf("serverAliveCountMax = %d, want 5", s.serverAliveCountMax)
	}
	if !s.identitiesOnly {
		t.Error("identitiesOnly = false, want true")
	}
}

func TestResolveSettingsOptionsWin(t *testing.T) {
	home := setupHome(t)
	configFile := filepath.Join(home, "config")
	writeFile(t, configFile, aliasConfig)
	o := Options{
		Host:                  "myalias",
		ConfigFile:            configFile,
		Port:                  3000,
		User:                  "carol",
		IdentityFiles:         []string{"~/first"},
		KnownHostsFiles:       []string{"~/kh_option"},
		StrictHostKeyChecking: "yes",
		ConnectTimeout:        2 * time.Second,
		ServerAliveInterval:   time.Second,
		ServerAliveCountMax:   9,
	}

	s, _, err := resolveSettings(o)
	if err != nil {
		t.Fatal(err)
	}

	if s.hostName != "127.0.0.1" || s.port != 3000 || s.user != "carol" {
		t.Errorf("endpoint = %s@%s:%d, want carol@127.0.0.1:3000", s.user, s.hostName, s.port)
	}
	if len(s.identityFiles) != 4 || s.identityFiles[0].path != filepath.Join(home, "first") {
		t.Errorf("identity files = %v, want ~/first before the config entries", s.identityFiles)
	}
	if s.identityFiles[1].path != filepath.Join(home, ".ssh", "id_127.0.0.1_carol") {
		t.Errorf("%%r expanded to %q, want the user from Options", s.identityFiles[1].path)
	}
	if !slices.Equal(s.knownHostsFiles, []string{filepath.Join(home, "kh_option")}) {
		t.Errorf("known_hosts files = %q, want ~/kh_option only", s.knownHostsFiles)
	}
	if s.strictHostKeyChecking != "yes" || s.connectTimeout != 2*time.Second ||
		s.serverAliveInterval != time.Second || s.serverAliveCountMax != 9 {
		t.Errorf("settings = %+v, want the values from Options", s)
	}
}

func TestResolveSettingsDefaults(t *testing.T) {
	home := setupHome(t)

	s, _, err := resolveSettings(Options{Host: "server.example"})
	if err != nil {
		t.Fatal(err)
	}

	if s.hostName != "server.example" || s.port != 22 || s.user != "tester" {
		t.Errorf("endpoint = %s@%s:%d, want tester@server.example:22", s.user, s.hostName, s.port)
	}
	var identities []string
	for _, identity := range s.identityFiles {
		identities = append(identities, filepath.Base(identity.path))
		if identity.source != identityDefault {
			t.Errorf("identity %s has source %v, want default", identity.path, identity.source)
		}
	}
	if !slices.Equal(identities, []string{"id_ed25519", "id_ecdsa", "id_rsa"}) {
		t.Errorf("default identities = %q", identities)
	}
	if want := []string{filepath.Join(home, ".ssh", "known_hosts")}; !slices.Equal(s.knownHostsFiles, want) {
		t.Errorf("known_hosts files = %q, want %q", s.knownHostsFiles, want)
	}
	if s.strictHostKeyChecking != "yes" {
		t.Errorf("StrictHostKeyChecking = %q, want yes", s.strictHostKeyChecking)
	}
	if s.connectTimeout != 30*time.Second || s.serverAliveInterval != 15*time.Second || s.serverAliveCountMax != 3 {
		t.Errorf("timers = %v %v %d, want 30s 15s 3", s.connectTimeout, s.serverAliveInterval, s.serverAliveCountMax)
	}
}

func TestResolveSettingsDefaultConfigFile(t *testing.T) {
	home := setupHome(t)
	writeFile(t, filepath.Join(home, ".ssh", "config"), "Host short\n  HostName long.example\n  ServerAliveInterval 0\n")

	s, _, err := resolveSettings(Options{Host: "short"})
	if err != nil {
		t.Fatal(err)
	}
	if s.hostName != "long.example" {
		t.Errorf("hostName = %q, want long.example from ~/.ssh/config", s.hostName)
	}
	if s.serverAliveInterval != 0 {
		t.Errorf("serverAliveInterval = %v, want 0 (disabled by the config)", s.serverAliveInterval)
	}

	s, _, err = resolveSettings(Options{Host: "short", ConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if s.hostName != "short" {
		t.Errorf("hostName with -F none = %q, want short", s.hostName)
	}
}

func TestResolveSettingsConfigErrors(t *testing.T) {
	home := setupHome(t)
	cases := []struct {
		name    string
		config  string
		options Options
		want    string
	}{
		{"missing -F file", "", Options{ConfigFile: filepath.Join(home, "nope")}, `ssh_config file "` + filepath.Join(home, "nope") + `" not found`},
		{"port not a number", "Port abc\n", Options{}, `invalid Port "abc" for host "h"`},
		{"port out of range", "Port 70000\n", Options{}, `invalid Port "70000"`},
		{"bad timeout", "ConnectTimeout soon\n", Options{}, `invalid ConnectTimeout "soon"`},
		{"bad count", "ServerAliveCountMax -1\n", Options{}, `invalid ServerAliveCountMax "-1"`},
		{"bad strict", "StrictHostKeyChecking maybe\n", Options{}, `invalid StrictHostKeyChecking "maybe"`},
		{"bad token", "IdentityFile ~/.ssh/%Z\n", Options{}, `invalid IdentityFile "~/.ssh/%Z"`},
		{"bad yes/no", "IdentitiesOnly sometimes\n", Options{}, `invalid IdentitiesOnly "sometimes"`},
		{"unsupported Match", "Match exec true\n", Options{}, "pass -F none to ignore it"},
		{"bad option", "", Options{StrictHostKeyChecking: "ask-me"}, `invalid StrictHostKeyChecking "ask-me": use yes, accept-new or no`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.options
			o.Host = "h"
			if o.ConfigFile == "" {
				o.ConfigFile = filepath.Join(t.TempDir(), "config")
				writeFile(t, o.ConfigFile, tc.config)
			}

			_, _, err := resolveSettings(o)

			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDialThroughConfigAlias(t *testing.T) {
	c := newClientSetup(t)
	keyFile := filepath.Join(c.home, "keys", "for-127.0.0.1")
	signer := newKeyFile(t, keyFile)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	knownHosts := filepath.Join(c.home, "alias_known_hosts")
	writeFile(t, knownHosts, server.knownHostsLine()+"\n")
	configFile := filepath.Join(c.home, "config")
	writeFile(t, configFile, "Host myserver\n"+
		"  HostName 127.0.0.1\n"+
		"  Port "+strconv.Itoa(server.port)+"\n"+
		"  User configured\n"+
		"  IdentityFile ~/keys/for-%h\n"+
		"  UserKnownHostsFile ~/alias_known_hosts\n")
	logger, _ := newTestLogger()
	o := Options{Host: "myserver", ConfigFile: configFile, Logger: logger}

	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}
	client, err := dialWith(t, d)
	if err != nil {
		t.Fatalf("Dial through the alias: %v", err)
	}
	if got, want := d.Target(), "configured@127.0.0.1:"+strconv.Itoa(server.port); got != want {
		t.Errorf("Target() = %q, want %q", got, want)
	}
	if client.User() != "configured" {
		t.Errorf("logged in as %q, want configured", client.User())
	}
}

func TestExpandTokens(t *testing.T) {
	values := map[byte]string{'d': "/home/u", 'h': "host", 'r': "remote", 'u': "local"}
	cases := []struct {
		in, want string
		wantErr  bool
	}{
		{"plain", "plain", false},
		{"%d/.ssh/id_%h", "/home/u/.ssh/id_host", false},
		{"%r@%h:%u", "remote@host:local", false},
		{"100%%", "100%", false},
		{"%%h", "%h", false},
		{"%", "", true},
		{"end%", "", true},
		{"%x", "", true},
		{"", "", false},
	}
	for _, tc := range cases {
		got, err := expandTokens(tc.in, values)
		if (err != nil) != tc.wantErr {
			t.Errorf("expandTokens(%q) error = %v, want error: %v", tc.in, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("expandTokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExpandTilde(t *testing.T) {
	cases := []struct{ in, want string }{
		{"~", "/home/u"},
		{"~/", "/home/u"},
		{"~/.ssh/config", "/home/u/.ssh/config"},
		{"/abs/~/x", "/abs/~/x"},
		{"relative", "relative"},
	}
	for _, tc := range cases {
		got, err := expandTilde(tc.in, "/home/u")
		if err != nil || got != tc.want {
			t.Errorf("expandTilde(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := expandTilde("~no-such-user-gosshfs/x", "/home/u"); err == nil {
		t.Error("expandTilde of an unknown user returned no error")
	}
	if _, err := expandTilde("~/x", ""); err == nil {
		t.Error("expandTilde without a home directory returned no error")
	}
}

func TestParseConfigDuration(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"0", 0, false},
		{"10", 10 * time.Second, false},
		{"10s", 10 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"1H", time.Hour, false},
		{"1d1w", 8 * 24 * time.Hour, false},
		{"5m5", 305 * time.Second, false},
		{"", 0, true},
		{"-1", 0, true},
		{"1x", 0, true},
		{"s", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999w", 0, true},
	}
	for _, tc := range cases {
		got, err := parseConfigDuration(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseConfigDuration(%q) error = %v, want error: %v", tc.in, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("parseConfigDuration(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzExpandTokens checks that expansion never panics, leaves text without
// % alone and turns escaped text back into the original.
func FuzzExpandTokens(f *testing.F) {
	for _, seed := range []string{"", "%d/.ssh/id_%h", "%%", "%", "a%zb", "~/%r@%h:%p", "\xff%\x00"} {
		f.Add(seed)
	}
	values := map[byte]string{'d': "/home/u", 'h': "host", 'r': "remote", 'u': "local", 'p': "22"}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := expandTokens(s, values)
		if !strings.Contains(s, "%") && (err != nil || got != s) {
			t.Errorf("expandTokens(%q) = %q, %v, want the input unchanged", s, got, err)
		}
		escaped := strings.ReplaceAll(s, "%", "%%")
		if back, err := expandTokens(escaped, values); err != nil || back != s {
			t.Errorf("expandTokens(%q) = %q, %v, want %q", escaped, back, err, s)
		}
		if _, err := expandPath(s, values); err != nil && err.Error() == "" {
			t.Error("empty error message")
		}
	})
}

// FuzzParseConfigDuration checks that any input yields an error or a
// duration from 0 to the 2^31 second bound.
func FuzzParseConfigDuration(f *testing.F) {
	for _, seed := range []string{"10", "1m30s", "9999999999w", "1d1d1d", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseConfigDuration(s)
		if err == nil && (d < 0 || d > (1<<31)*time.Second) {
			t.Errorf("parseConfigDuration(%q) = %v, out of range", s, d)
		}
	})
}

func TestLoadSSHConfigUnreadable(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root reads files regardless of their mode")
	}
	home := setupHome(t)
	configFile := filepath.Join(home, ".ssh", "config")
	writeFile(t, configFile, "Port 1\n")
	if err := os.Chmod(configFile, 0); err != nil {
		t.Fatal(err)
	}

	_, _, err := resolveSettings(Options{Host: "h"})

	if err == nil || !strings.Contains(err.Error(), configFile) {
		t.Errorf("error = %v, want one naming %s", err, configFile)
	}
}

package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// testServer is a Run started by startServer.
type testServer struct {
	addr     *net.TCPAddr
	dir      string
	stateDir string
	stdout   string // instructions Run printed before it became ready
	stop     func() error
}

// startServer runs Run on a free loopback port with a temporary Dir and
// StateDir unless o sets them, and stops it when the test ends.
func startServer(t *testing.T, o Options) *testServer {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(t.TempDir(), "state")
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	stdout := new(bytes.Buffer)
	o.Stdout = stdout
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ready := make(chan net.Addr, 1)
	o.Ready = func(addr net.Addr) { ready <- addr }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()

	ts := &testServer{dir: o.Dir, stateDir: o.StateDir}
	select {
	case addr := <-ready:
		ts.addr = addr.(*net.TCPAddr)
	case err := <-done:
		cancel()
		t.Fatalf("Run returned before it was ready: %v", err)
	case <-time.After(testTimeout):
		cancel()
		t.Fatal("Run did not become ready")
	}
	ts.stdout = stdout.String()

	stopped := false
	var runErr error
	ts.stop = func() error {
		if stopped {
			return runErr
		}
		stopped = true
		cancel()
		select {
		case runErr = <-done:
		case <-time.After(testTimeout):
			runErr = errors.New("Run did not return after the context was cancelled")
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ts
}

// clientKeyPath is the generated client key of a server started without
// Options.AuthorizedKeys.
func (ts *testServer) clientKeyPath() string { return filepath.Join(ts.stateDir, clientKeyName) }

func (ts *testServer) knownHostsPath() string { return filepath.Join(ts.stateDir, knownHostsName) }

// dialSSH connects with signer and verifies the host key with the server's
// known_hosts file.
func (ts *testServer) dialSSH(t *testing.T, signer ssh.Signer) (*ssh.Client, error) {
	t.Helper()
	hostKeyCallback, err := knownhosts.New(ts.knownHostsPath())
	if err != nil {
		t.Fatalf("knownhosts.New: %v", err)
	}
	client, err := ssh.Dial("tcp", ts.addr.String(), &ssh.ClientConfig{
		User:            "tester",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeyCallback,
		Timeout:         testTimeout,
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { client.Close() })
	return client, nil
}

// dialSFTP connects with the generated client key and starts an SFTP
// client.
func (ts *testServer) dialSFTP(t *testing.T) *sftp.Client {
	t.Helper()
	conn, err := ts.dialSSH(t, readSigner(t, ts.clientKeyPath()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	client, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatalf("start SFTP client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// startSFTP starts a server for a new temporary directory and connects an
// SFTP client to it.
func startSFTP(t *testing.T) (*sftp.Client, string) {
	t.Helper()
	ts := startServer(t, Options{})
	return ts.dialSFTP(t), ts.dir
}

func readSigner(t *testing.T, path string) ssh.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read key: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatalf("parse key %s: %v", path, err)
	}
	return signer
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode()
}

func TestGeneratedStateFiles(t *testing.T) {
	ts := startServer(t, Options{})

	if got := modeOf(t, ts.stateDir).Perm(); got != 0o700 {
		t.Errorf("state directory mode = %#o, want 0700", got)
	}
	for _, name := range []string{hostKeyName, clientKeyName} {
		if got := modeOf(t, filepath.Join(ts.stateDir, name)).Perm(); got != 0o600 {
			t.Errorf("%s mode = %#o, want 0600", name, got)
		}
		data, err := os.ReadFile(filepath.Join(ts.stateDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("-----BEGIN OPENSSH PRIVATE KEY-----")) {
			t.Errorf("%s is not an OpenSSH private key: %.40q", name, data)
		}
	}

	client := readSigner(t, ts.clientKeyPath())
	pubData, err := os.ReadFile(ts.clientKeyPath() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubData)
	if err != nil {
		t.Fatalf("parse %s.pub: %v", clientKeyName, err)
	}
	if !bytes.Equal(pub.Marshal(), client.PublicKey().Marshal()) {
		t.Error("client_ed25519.pub does not match client_ed25519")
	}

	host := readSigner(t, filepath.Join(ts.stateDir, hostKeyName))
	knownHosts, err := os.ReadFile(ts.knownHostsPath())
	if err != nil {
		t.Fatal(err)
	}
	wantLine := fmt.Sprintf("[127.0.0.1]:%d %s", ts.addr.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(host.PublicKey()))))
	if got := strings.TrimSpace(string(knownHosts)); got != wantLine {
		t.Errorf("known_hosts = %q, want %q", got, wantLine)
	}

	wantMount := fmt.Sprintf("gosshfs -p %d -o IdentityFile=%s -o UserKnownHostsFile=%s 127.0.0.1:/ ./mnt",
		ts.addr.Port, ts.clientKeyPath(), ts.knownHostsPath())
	if !strings.Contains(ts.stdout, wantMount) {
		t.Errorf("stdout does not contain %q:\n%s", wantMount, ts.stdout)
	}
	if !strings.Contains(ts.stdout, "Client key: "+ts.clientKeyPath()) {
		t.Errorf("stdout does not name the client key:\n%s", ts.stdout)
	}
}

func TestGeneratedKeyConnectsWithKnownHosts(t *testing.T) {
	client, _ := startSFTP(t)

	wd, err := client.Getwd()
	if err != nil {
		t.Fatalf("Getwd: %v", err)
	}
	if wd != "/" {
		t.Errorf("Getwd = %q, want /", wd)
	}
}

func TestUnauthorizedKeyRejected(t *testing.T) {
	ts := startServer(t, Options{})

	_, err := ts.dialSSH(t, newSigner(t))
	if err == nil {
		t.Fatal("dial with an unknown key succeeded")
	}
	if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("dial error = %v, want an authentication failure", err)
	}
}

func TestWrongHostKeyDetected(t *testing.T) {
	ts := startServer(t, Options{})
	other := newSigner(t)
	line := knownhosts.Line([]string{knownhosts.Normalize(ts.addr.String())}, other.PublicKey())
	if err := os.WriteFile(ts.knownHostsPath(), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := ts.dialSSH(t, readSigner(t, ts.clientKeyPath()))
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) {
		t.Fatalf("dial error = %v, want a knownhosts.KeyError", err)
	}
}

func TestAuthorizedKeysFile(t *testing.T) {
	allowed := newSigner(t)
	authorized := filepath.Join(t.TempDir(), "authorized_keys")
	content := "# comment line\n\n" +
		`restrict,from="127.0.0.1" ` + string(ssh.MarshalAuthorizedKey(newSigner(t).PublicKey())) +
		"not a key line\n" +
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(allowed.PublicKey()))) + " tester@example\n"
	if err := os.WriteFile(authorized, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Options{AuthorizedKeys: authorized})

	if _, err := ts.dialSSH(t, allowed); err != nil {
		t.Errorf("dial with a listed key: %v", err)
	}
	if _, err := ts.dialSSH(t, newSigner(t)); err == nil {
		t.Error("dial with an unlisted key succeeded")
	}
	if _, err := os.Stat(ts.clientKeyPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("client key was generated although AuthorizedKeys is set: %v", err)
	}
	if strings.Contains(ts.stdout, "IdentityFile") {
		t.Errorf("stdout names an identity file although AuthorizedKeys is set:\n%s", ts.stdout)
	}
	if !strings.Contains(ts.stdout, "UserKnownHostsFile="+ts.knownHostsPath()) {
		t.Errorf("stdout does not name the known_hosts file:\n%s", ts.stdout)
	}
}

func TestAuthorizedKeysWithoutKeys(t *testing.T) {
	authorized := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(authorized, []byte("# no keys yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: t.TempDir(), StateDir: t.TempDir(), AuthorizedKeys: authorized, Listen: "127.0.0.1:0", Stdout: new(bytes.Buffer)}

	err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no public key found") {
		t.Errorf("Run = %v, want a \"no public key found\" error", err)
	}
}

func TestHostKeyReusedAcrossRuns(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	dir := t.TempDir()

	hostKeyOf := func(ts *testServer) []byte {
		t.Helper()
		var seen []byte
		conn, err := ssh.Dial("tcp", ts.addr.String(), &ssh.ClientConfig{
			User: "tester",
			Auth: []ssh.AuthMethod{ssh.PublicKeys(readSigner(t, ts.clientKeyPath()))},
			HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
				seen = key.Marshal()
				return nil
			},
			Timeout: testTimeout,
		})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conn.Close()
		return seen
	}

	first := startServer(t, Options{Dir: dir, StateDir: stateDir})
	firstKey := hostKeyOf(first)
	firstFile, err := os.ReadFile(filepath.Join(stateDir, hostKeyName))
	if err != nil {
		t.Fatal(err)
	}
	firstClientKey, err := os.ReadFile(first.clientKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := first.stop(); err != nil {
		t.Fatalf("first Run: %v", err)
	}

	second := startServer(t, Options{Dir: dir, StateDir: stateDir})
	if got := hostKeyOf(second); !bytes.Equal(got, firstKey) {
		t.Error("second Run presented a different host key")
	}
	secondFile, err := os.ReadFile(filepath.Join(stateDir, hostKeyName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secondFile, firstFile) {
		t.Error("host_ed25519 changed between runs")
	}
	secondClientKey, err := os.ReadFile(second.clientKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secondClientKey, firstClientKey) {
		t.Error("client_ed25519 changed between runs")
	}
	// known_hosts now lists both ports, so strict checking still works.
	second.dialSFTP(t)
}

func TestSessionRejectsExecShellAndForwarding(t *testing.T) {
	ts := startServer(t, Options{})
	conn, err := ts.dialSSH(t, readSigner(t, ts.clientKeyPath()))
	if err != nil {
		t.Fatal(err)
	}

	session, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.Run("id"); err == nil {
		t.Error("exec request succeeded")
	}
	session.Close()

	session, err = conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
		t.Error("pty request succeeded")
	}
	if err := session.Shell(); err == nil {
		t.Error("shell request succeeded")
	}
	if err := session.RequestSubsystem("other"); err == nil {
		t.Error("subsystem \"other\" was accepted")
	}
	if err := session.RequestSubsystem("sftp"); err != nil {
		t.Errorf("subsystem sftp after rejected requests: %v", err)
	}
	session.Close()

	if _, err := conn.Dial("tcp", ts.addr.String()); err == nil {
		t.Error("direct-tcpip channel was accepted")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ts := startServer(t, Options{})
	conn, err := ts.dialSSH(t, readSigner(t, ts.clientKeyPath()))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	if err := ts.stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}

	closed := make(chan error, 1)
	go func() { closed <- conn.Wait() }()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("client connection still open after Run returned")
	}
	if _, err := net.DialTimeout("tcp", ts.addr.String(), time.Second); err == nil {
		t.Error("listener still accepts connections after Run returned")
	}
}

func TestRunRejectsInvalidOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name    string
		options Options
		want    string
	}{
		{"missing directory", Options{}, "missing directory"},
		{"directory is a file", Options{Dir: file}, "directory to serve"},
		{"state directory is a file", Options{Dir: t.TempDir(), StateDir: file}, "state directory"},
		{"address in use", Options{Dir: t.TempDir(), Listen: busy.Addr().String()}, "--listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.options
			if o.StateDir == "" {
				o.StateDir = t.TempDir()
			}
			if o.Listen == "" {
				o.Listen = "127.0.0.1:0"
			}
			o.Stdout = new(bytes.Buffer)
			err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:2222", true},
		{"[::1]:2222", true},
		{"0.0.0.0:2222", false},
		{"[::]:2222", false},
		{"192.0.2.1:2222", false},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopback(addr); got != tt.want {
			t.Errorf("isLoopback(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestConnectAddressForUnspecifiedHost(t *testing.T) {
	host, port := connectAddress(&net.TCPAddr{IP: net.IPv6unspecified, Port: 2222})
	if host != "127.0.0.1" || port != 2222 {
		t.Errorf("connectAddress([::]:2222) = %s, %d, want 127.0.0.1, 2222", host, port)
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"/root/.config/gosshfs/serve/known_hosts": "/root/.config/gosshfs/serve/known_hosts",
		"/tmp/with space/key":                     "'/tmp/with space/key'",
		"/tmp/it's":                               `'/tmp/it'\''s'`,
		"":                                        "''",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

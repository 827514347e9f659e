package remote

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMain(m *testing.M) {
	// A ProxyCommand test runs this binary as a netcat that relays its
	// standard input and output to the address in the variable.
	if address := os.Getenv(relayAddressVariable); address != "" {
		os.Exit(relayStdio(address))
	}
	// No test may read from the real terminal.
	openPrompter = func() (prompter, error) { return nil, errNoTerminal }
	os.Exit(m.Run())
}

// serverOptions configure the in-process SSH server.
type serverOptions struct {
	authorizedKeys      []ssh.PublicKey
	userAuthority       ssh.PublicKey // accepts user certificates signed by it
	password            string        // enables password authentication
	keyboardInteractive bool          // prompts "Password: " and compares with password
	hostSigners         []ssh.Signer  // nil means one new ED25519 key
	forward             bool          // accept direct-tcpip channels, as a jump host
}

// testServer is an SSH server on 127.0.0.1 that authenticates clients,
// replies to global requests and rejects every channel.
type testServer struct {
	host       string
	port       int
	hostSigner ssh.Signer // the first host key

	frozen     atomic.Bool // stop replying to global requests
	keepalives atomic.Int32
	passwords  atomic.Int32 // password and keyboard-interactive attempts
	forward    bool
	forwards   atomic.Int32 // direct-tcpip channels opened
	logins     atomic.Int32 // successful handshakes
	active     atomic.Int32 // connections open after the handshake

	listener net.Listener

	mu    sync.Mutex
	conns []net.Conn
}

func startTestServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	if o.hostSigners == nil {
		o.hostSigners = []ssh.Signer{newSigner(t)}
	}
	s := &testServer{hostSigner: o.hostSigners[0], forward: o.forward}
	config := &ssh.ServerConfig{MaxAuthTries: 10}
	for _, signer := range o.hostSigners {
		config.AddHostKey(signer)
	}
	if len(o.authorizedKeys) > 0 || o.userAuthority != nil {
		config.PublicKeyCallback = func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if cert, ok := key.(*ssh.Certificate); ok && o.userAuthority != nil {
				if bytes.Equal(cert.SignatureKey.Marshal(), o.userAuthority.Marshal()) {
					return nil, nil
				}
			}
			if containsKey(o.authorizedKeys, key) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		}
	}
	if o.password != "" && !o.keyboardInteractive {
		config.PasswordCallback = func(_ ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			s.passwords.Add(1)
			if string(password) == o.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	if o.keyboardInteractive {
		config.KeyboardInteractiveCallback = func(_ ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := client("", "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			s.passwords.Add(1)
			if len(answers) == 1 && answers[0] == o.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.host = "127.0.0.1"
	s.port = listener.Addr().(*net.TCPAddr).Port
	s.listener = listener
	go s.serve(listener, config)
	t.Cleanup(s.stop)
	return s
}

// stop closes the listener and every connection.
func (s *testServer) stop() {
	s.listener.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, conn := range s.conns {
		conn.Close()
	}
}

func (s *testServer) serve(listener net.Listener, config *ssh.ServerConfig) {
	for {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		go s.handle(conn, config)
	}
}

func (s *testServer) handle(conn net.Conn, config *ssh.ServerConfig) {
	_, channels, requests, err := ssh.NewServerConn(conn, config)
	if err != nil {
		conn.Close()
		return
	}
	s.logins.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)
	go func() {
		for channel := range channels {
			if s.forward && channel.ChannelType() == "direct-tcpip" {
				go s.forwardChannel(channel)
				continue
			}
			channel.Reject(ssh.Prohibited, "this test server opens no channels")
		}
	}()
	for request := range requests {
		if s.frozen.Load() {
			continue
		}
		s.keepalives.Add(1)
		if request.WantReply {
			request.Reply(false, nil)
		}
	}
}

// forwardChannel connects a direct-tcpip channel to the address it
// requests, as sshd does for ssh -W and ProxyJump.
func (s *testServer) forwardChannel(newChannel ssh.NewChannel) {
	var request struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(newChannel.ExtraData(), &request); err != nil {
		newChannel.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	address := net.JoinHostPort(request.Host, strconv.Itoa(int(request.Port)))
	conn, err := net.Dial("tcp", address)
	if err != nil {
		newChannel.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	channel, requests, err := newChannel.Accept()
	if err != nil {
		conn.Close()
		return
	}
	s.forwards.Add(1)
	go ssh.DiscardRequests(requests)
	go func() {
		io.Copy(channel, conn)
		channel.CloseWrite()
	}()
	io.Copy(conn, channel)
	conn.Close()
	channel.Close()
}

// knownHostsLine returns a known_hosts line for the server's first host key.
func (s *testServer) knownHostsLine() string {
	return knownhosts.Line([]string{s.address()}, s.hostSigner.PublicKey())
}

func (s *testServer) address() string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

func newSigner(t testing.TB) ssh.Signer {
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

func newECDSASigner(t *testing.T) ssh.Signer {
	t.Helper()
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// newKeyFile writes a new unencrypted ED25519 private key in OpenSSH
// format to path and returns its signer.
func newKeyFile(t *testing.T, path string) ssh.Signer {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(private, "test key")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(pem.EncodeToMemory(block)))
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// setupHome points HOME at a new directory and clears SSH_AUTH_SOCK so that
// no test reads the real ~/.ssh or ssh-agent.
func setupHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USER", "tester")
	t.Setenv("SSH_AUTH_SOCK", "")
	return home
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	logs := &logBuffer{}
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}

// clientSetup is a home directory with a client key the server accepts and
// a known_hosts file that lists the server.
type clientSetup struct {
	home       string
	keyFile    string
	knownHosts string
	signer     ssh.Signer
	logs       *logBuffer
	options    Options
}

func newClientSetup(t *testing.T) *clientSetup {
	t.Helper()
	home := setupHome(t)
	c := &clientSetup{
		home:       home,
		keyFile:    filepath.Join(home, "keys", "client"),
		knownHosts: filepath.Join(home, "known_hosts"),
	}
	c.signer = newKeyFile(t, c.keyFile)
	logger, logs := newTestLogger()
	c.logs = logs
	c.options = Options{
		User:            "tester",
		ConfigFile:      "none",
		IdentityFiles:   []string{c.keyFile},
		KnownHostsFiles: []string{c.knownHosts},
		ConnectTimeout:  5 * time.Second,
		Logger:          logger,
	}
	return c
}

// target points the options at server and lists its key in known_hosts.
func (c *clientSetup) target(t *testing.T, server *testServer) Options {
	t.Helper()
	writeFile(t, c.knownHosts, server.knownHostsLine()+"\n")
	o := c.options
	o.Host = server.host
	o.Port = server.port
	return o
}

func dial(t *testing.T, o Options) (*ssh.Client, error) {
	t.Helper()
	d, err := NewDialer(o)
	if err != nil {
		t.Fatalf("NewDialer: %v", err)
	}
	return dialWith(t, d)
}

func dialWith(t *testing.T, d *Dialer) (*ssh.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := d.Dial(ctx)
	if err == nil {
		t.Cleanup(func() { client.Close() })
	}
	return client, err
}

func requireDialError(t *testing.T, err error, kind DialErrorKind) *DialError {
	t.Helper()
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("error = %v (%T), want a *DialError of kind %v", err, err, kind)
	}
	if de.Kind != kind {
		t.Fatalf("error kind = %v, want %v; message: %v", de.Kind, kind, err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error message has more than one line: %q", err.Error())
	}
	return de
}

func TestDialPublicKey(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	d, err := NewDialer(c.target(t, server))
	if err != nil {
		t.Fatal(err)
	}

	client, err := dialWith(t, d)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if got := client.User(); got != "tester" {
		t.Errorf("client.User() = %q, want tester", got)
	}
	if got, want := d.Target(), "tester@127.0.0.1:"+strconv.Itoa(server.port); got != want {
		t.Errorf("Target() = %q, want %q", got, want)
	}
	if got := d.User(); got != "tester" {
		t.Errorf("User() = %q, want tester", got)
	}
	if !strings.Contains(c.logs.String(), "SSH connection established") {
		t.Errorf("no connect message in the log:\n%s", c.logs)
	}
}

func TestDialWrongKey(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{newSigner(t).PublicKey()}})

	_, err := dial(t, c.target(t, server))

	requireDialError(t, err, KindAuthFailed)
	if !IsPermanent(err) {
		t.Error("IsPermanent = false for an authentication failure")
	}
	want := `authentication as "tester" on 127.0.0.1 port ` + strconv.Itoa(server.port) +
		` failed (tried publickey): check -o IdentityFile, ssh-agent or the user name`
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
}

func TestDialNoCredentials(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "secret"})
	o := c.target(t, server)
	o.IdentityFiles = nil // the default keys in the empty home do not exist

	_, err := dial(t, o)

	requireDialError(t, err, KindAuthFailed)
	want := `authentication as "tester" on 127.0.0.1 port ` + strconv.Itoa(server.port) +
		` failed (the server requests a password and no terminal is available to prompt for it): ` +
		`check -o IdentityFile, ssh-agent or the user name`
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
	if n := server.passwords.Load(); n != 0 {
		t.Errorf("server saw %d password attempts, want 0", n)
	}
}

func TestDialPasswordStdin(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "correct horse"})
	o := c.target(t, server)
	o.IdentityFiles = nil
	o.PasswordStdin = true
	stdin := strings.NewReader("correct horse\nnext line")
	o.Stdin = stdin
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		if _, err := dialWith(t, d); err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
	}
	if rest, _ := io.ReadAll(stdin); string(rest) != "next line" {
		t.Errorf("NewDialer read past the password line, left %q", rest)
	}
	if strings.Contains(c.logs.String(), "correct horse") {
		t.Errorf("the log contains the password:\n%s", c.logs)
	}
}

func TestDialPasswordStdinWrong(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "correct horse"})
	o := c.target(t, server)
	o.IdentityFiles = nil
	o.PasswordStdin = true
	o.Stdin = strings.NewReader("wrong horse\n")

	_, err := dial(t, o)

	de := requireDialError(t, err, KindAuthFailed)
	if got := strings.Join(de.Methods, ","); got != "password" {
		t.Errorf("Methods = %q, want password", got)
	}
	if !strings.Contains(err.Error(), "check the password") {
		t.Errorf("message does not mention the password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong horse") {
		t.Errorf("message contains the password: %v", err)
	}
	if n := server.passwords.Load(); n != 1 {
		t.Errorf("server saw %d password attempts, want 1", n)
	}
}

func TestDialPasswordStdinEmpty(t *testing.T) {
	c := newClientSetup(t)
	o := c.options
	o.Host = "127.0.0.1"
	o.PasswordStdin = true
	o.Stdin = strings.NewReader("")

	_, err := NewDialer(o)

	if err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Fatalf("NewDialer error = %v, want one about standard input", err)
	}
}

func TestDialKeyboardInteractive(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "pam secret", keyboardInteractive: true})
	o := c.target(t, server)
	o.IdentityFiles = nil
	o.PasswordStdin = true
	o.Stdin = strings.NewReader("pam secret\n")
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		if _, err := dialWith(t, d); err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
	}
}

// fakePrompter returns responses from a list and counts them.
type fakePrompter struct {
	mu      sync.Mutex
	answers []string
	prompts []string
}

func (f *fakePrompter) next(prompt string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return "", errors.New("fake terminal has no more answers")
	}
	answer := f.answers[0]
	f.answers = f.answers[1:]
	return answer, nil
}

func (f *fakePrompter) ReadSecret(prompt string) ([]byte, error) {
	answer, err := f.next(prompt)
	return []byte(answer), err
}

func (f *fakePrompter) ReadLine(prompt string) (string, error) { return f.next(prompt) }

func (f *fakePrompter) Close() error { return nil }

func (f *fakePrompter) promptList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.prompts...)
}

func useFakeTerminal(t *testing.T, answers ...string) *fakePrompter {
	fake := &fakePrompter{answers: answers}
	saved := openPrompter
	openPrompter = func() (prompter, error) { return fake, nil }
	t.Cleanup(func() { openPrompter = saved })
	return fake
}

func TestDialPasswordPromptedOnce(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "typed"})
	o := c.target(t, server)
	o.IdentityFiles = nil
	terminal := useFakeTerminal(t, "mistyped", "typed")
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		if _, err := dialWith(t, d); err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
	}
	prompts := terminal.promptList()
	if len(prompts) != 2 {
		t.Fatalf("prompts = %q, want two (one retry after the typo, none on redial)", prompts)
	}
	if want := "tester@127.0.0.1's password: "; prompts[0] != want {
		t.Errorf("prompt = %q, want %q", prompts[0], want)
	}
}

func TestDialKeyboardInteractiveTerminal(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "pam secret", keyboardInteractive: true})
	o := c.target(t, server)
	o.IdentityFiles = nil
	terminal := useFakeTerminal(t, "pam secret")
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		if _, err := dialWith(t, d); err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
	}
	if prompts := terminal.promptList(); len(prompts) != 1 {
		t.Errorf("prompts = %q, want one", prompts)
	}
}

func TestDialConnectionRefused(t *testing.T) {
	c := newClientSetup(t)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	o := c.options
	o.Host, o.Port = "127.0.0.1", port

	_, err = dial(t, o)

	requireDialError(t, err, KindConnectionRefused)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(err, ECONNREFUSED) = false for %v", err)
	}
	if IsPermanent(err) {
		t.Error("IsPermanent = true for a refused connection")
	}
	want := "connection to 127.0.0.1 port " + strconv.Itoa(port) +
		" refused: check that an SSH server listens there and that the port (-p) is right"
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
}

// useNXDomainResolver makes the default resolver send DNS queries to a
// server on 127.0.0.1 that answers every query with NXDOMAIN, so no query
// leaves the machine.
func useNXDomainResolver(t *testing.T) {
	t.Helper()
	packets, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { packets.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := packets.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			reply := append([]byte(nil), buf[:n]...)
			reply[2] |= 0x80                          // QR: this is a response
			reply[3] = 0x80 | 3                       // RA set, RCODE 3 (NXDOMAIN)
			binary.BigEndian.PutUint16(reply[6:], 0)  // no answers
			binary.BigEndian.PutUint16(reply[8:], 0)  // no authority records
			binary.BigEndian.PutUint16(reply[10:], 0) // no additional records
			packets.WriteTo(reply, from)
		}
	}()

	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", packets.LocalAddr().String())
		},
	}
	t.Cleanup(func() { net.DefaultResolver = saved })
}

func TestDialUnknownHostName(t *testing.T) {
	c := newClientSetup(t)
	useNXDomainResolver(t)
	o := c.options
	o.Host = "nohost.invalid"

	_, err := dial(t, o)

	requireDialError(t, err, KindUnknownHost)
	if IsPermanent(err) {
		t.Error("IsPermanent = true for an unresolved name")
	}
	want := `cannot resolve host "nohost.invalid": check the name, or its HostName in ~/.ssh/config`
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
}

// startSilentServer accepts connections and never writes to them.
func startSilentServer(t *testing.T) int {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		listener.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	})
	return listener.Addr().(*net.TCPAddr).Port
}

func TestDialHandshakeTimeout(t *testing.T) {
	c := newClientSetup(t)
	o := c.options
	o.Host, o.Port = "127.0.0.1", startSilentServer(t)
	o.ConnectTimeout = 200 * time.Millisecond

	start := time.Now()
	_, err := dial(t, o)

	requireDialError(t, err, KindTimedOut)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Dial took %v with a 200ms timeout", elapsed)
	}
	if IsPermanent(err) {
		t.Error("IsPermanent = true for a timeout")
	}
	want := "connection to 127.0.0.1 port " + strconv.Itoa(o.Port) +
		" timed out after 200ms: check the address and firewall, or raise -o ConnectTimeout"
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
}

func TestDialContextCancelled(t *testing.T) {
	c := newClientSetup(t)
	o := c.options
	o.Host, o.Port = "127.0.0.1", startSilentServer(t)
	o.ConnectTimeout = time.Minute
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)

	start := time.Now()
	_, err = d.Dial(ctx)

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Dial returned %v after the cancel", elapsed)
	}
	if IsPermanent(err) {
		t.Error("IsPermanent = true for a cancelled dial")
	}
}

func TestDialNotSSHServer(t *testing.T) {
	c := newClientSetup(t)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\n\r\n")
			conn.Close()
		}
	}()
	o := c.options
	o.Host, o.Port = "127.0.0.1", listener.Addr().(*net.TCPAddr).Port

	_, err = dial(t, o)

	requireDialError(t, err, KindHandshakeFailed)
	if IsPermanent(err) {
		t.Error("IsPermanent = true for a failed handshake")
	}
	if !strings.Contains(err.Error(), "check that the port (-p) belongs to an SSH server") {
		t.Errorf("message has no hint: %v", err)
	}
}

// startAgent serves an in-memory ssh-agent holding keys and points
// SSH_AUTH_SOCK at it.
func startAgent(t *testing.T, keys ...any) {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, key := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(t.TempDir(), "agent.sock")
	listener, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				agent.ServeAgent(keyring, conn)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", socket)
}

func newEd25519Key(t *testing.T) (ed25519.PrivateKey, ssh.PublicKey) {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	publicKey, err := ssh.NewPublicKey(private.Public())
	if err != nil {
		t.Fatal(err)
	}
	return private, publicKey
}

func TestDialAgent(t *testing.T) {
	c := newClientSetup(t)
	private, publicKey := newEd25519Key(t)
	startAgent(t, private)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{publicKey}})
	o := c.target(t, server)
	o.IdentityFiles = nil

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial with the key in ssh-agent: %v", err)
	}
}

func TestDialIPv6Loopback(t *testing.T) {
	listener, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	listener.Close()
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.options
	// The test server listens on 127.0.0.1 only, so ::1 is refused, which
	// shows that the address was joined with brackets and dialled.
	o.Host, o.Port = "::1", server.port
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Target(), "tester@[::1]:"+strconv.Itoa(server.port); got != want {
		t.Errorf("Target() = %q, want %q", got, want)
	}

	_, err = dialWith(t, d)

	de := requireDialError(t, err, KindConnectionRefused)
	if de.Host != "::1" {
		t.Errorf("DialError.Host = %q, want ::1", de.Host)
	}
}

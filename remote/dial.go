package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Dialer opens authenticated SSH connections to one server, directly,
// through ProxyJump hosts or through a ProxyCommand. It resolves the
// ssh_config once and keeps the credentials it unlocked (key passphrases,
// password) for every host of the chain, so that redials never prompt
// again. A Dialer is safe for concurrent use.
type Dialer struct {
	endpoint             // the server that serves SFTP
	jumps    []*endpoint // ProxyJump hosts in dial order
}

// endpoint is one SSH server of a Dialer's chain with its settings and
// credentials. Its fields are immutable after NewDialer.
type endpoint struct {
	settings settings
	logger   *slog.Logger
	hostKeys *hostKeyChecker
	creds    *credentials
	// hop is "" for the server that serves SFTP and names the jump host
	// otherwise, for example "jump host 1 of 2 (root@bastion:22)".
	hop string
}

// NewDialer applies the ssh_config file to o, loads the keys of the server
// and of every jump host and prompts for any passphrase they need. The
// password is read here from o.Stdin when o.PasswordStdin is set, and only
// the server that serves SFTP receives it. Otherwise the first Dial that
// needs a password prompts for it on the terminal, and later dials reuse it.
func NewDialer(o Options) (*Dialer, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, env, err := resolveSettings(o)
	if err != nil {
		return nil, err
	}
	keys := map[string]ssh.Signer{}
	creds, err := newCredentials(o, s, logger, keys)
	if err != nil {
		return nil, err
	}
	d := &Dialer{endpoint: endpoint{
		settings: s,
		logger:   logger,
		hostKeys: newHostKeyChecker(s, logger),
		creds:    creds,
	}}
	if err := d.addJumpHosts(o, env, keys); err != nil {
		return nil, err
	}
	logger.Debug("SSH settings resolved", "target", d.Target(), "alias", s.alias,
		"identity_files", len(s.identityFiles), "known_hosts", s.knownHostsFiles,
		"strict_host_key_checking", s.strictHostKeyChecking, "connect_timeout", s.connectTimeout,
		"server_alive_interval", s.serverAliveInterval, "server_alive_count_max", s.serverAliveCountMax,
		"proxy_jump", s.proxyJump, "proxy_command", s.proxyCommand)
	return d, nil
}

// addJumpHosts resolves the ProxyJump chain and loads each jump host's keys.
// keys contains the keys already unlocked, so a key that several hosts use
// is prompted for once.
func (d *Dialer) addJumpHosts(o Options, env configEnv, keys map[string]ssh.Signer) error {
	if d.settings.proxyJump == "" {
		return nil
	}
	hops, err := resolveJumpHosts(d.settings.proxyJump, o, env, 0)
	if err != nil {
		return err
	}
	for i, hop := range hops {
		e := &endpoint{settings: hop, logger: d.logger, hostKeys: newHostKeyChecker(hop, d.logger)}
		e.hop = fmt.Sprintf("jump host %d of %d (%s)", i+1, len(hops), e.target())
		e.creds, err = newCredentials(Options{}, hop, d.logger, keys)
		if err != nil {
			return fmt.Errorf("%s: %w", e.hop, err)
		}
		d.logger.Debug("jump host resolved", "hop", e.hop, "alias", hop.alias,
			"identity_files", len(hop.identityFiles), "known_hosts", hop.knownHostsFiles,
			"strict_host_key_checking", hop.strictHostKeyChecking, "proxy_command", hop.proxyCommand)
		d.jumps = append(d.jumps, e)
	}
	return nil
}

// Target returns "user@host:port" with the resolved HostName and port.
func (d *Dialer) Target() string { return d.target() }

func (e *endpoint) target() string {
	return e.settings.user + "@" + net.JoinHostPort(e.settings.hostName, strconv.Itoa(e.settings.port))
}

// User returns the resolved remote user.
func (d *Dialer) User() string { return d.settings.user }

// Dial connects through the jump hosts, if any, to the server, checks
// every host key, authenticates to every host and starts keepalives.
// ConnectTimeout bounds each host's connect and handshake, except for the
// time spent waiting at a terminal prompt. Connection failures are
// *DialError values, whose Hop names a failing jump host, and IsPermanent
// reports whether a retry can succeed. When ctx ends first, the error
// wraps ctx.Err(). Closing the returned client also closes the
// connections to the jump hosts.
func (d *Dialer) Dial(ctx context.Context) (*ssh.Client, error) {
	chain := append(append([]*endpoint(nil), d.jumps...), &d.endpoint)
	var clients []*ssh.Client
	for i, e := range chain {
		var client *ssh.Client
		var err error
		if i == 0 {
			client, err = e.dialFirst(ctx)
		} else {
			client, err = e.dialVia(ctx, clients[i-1], chain[i-1].target())
		}
		if err != nil {
			closeClients(clients)
			return nil, e.hopError(err)
		}
		clients = append(clients, client)
		e.started(client)
	}

	client := clients[len(clients)-1]
	if len(clients) > 1 {
		jumps := clients[:len(clients)-1]
		go func() {
			client.Wait()
			closeClients(jumps)
		}()
	}
	return client, nil
}

// dialFirst connects to the first host of the chain over TCP or through
// its ProxyCommand.
func (e *endpoint) dialFirst(ctx context.Context) (*ssh.Client, error) {
	s := &e.settings
	if s.proxyCommand != "" {
		conn, err := startProxyCommand(s.proxyCommand, e.logger)
		if err != nil {
			return nil, err
		}
		client, err := e.handshake(ctx, conn)
		if err != nil {
			conn.Close()
			if exit := conn.exitDescription(); exit != "" {
				return nil, fmt.Errorf("%w (%s)", err, exit)
			}
			return nil, err
		}
		return client, nil
	}

	address := net.JoinHostPort(s.hostName, strconv.Itoa(s.port))
	netDialer := net.Dialer{Timeout: s.connectTimeout}
	tcpConn, err := netDialer.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, classifyConnectError(ctx, err, s.hostName, s.port, s.connectTimeout)
	}
	conn := newBatchConn(tcpConn)
	client, err := e.handshake(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return client, nil
}

// dialVia connects to e through the SSH client of the previous host.
func (e *endpoint) dialVia(ctx context.Context, via *ssh.Client, viaName string) (*ssh.Client, error) {
	conn, err := e.dialThrough(ctx, via, viaName)
	if err != nil {
		return nil, err
	}
	client, err := e.handshake(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return client, nil
}

// started logs a new connection and starts its keepalives.
func (e *endpoint) started(client *ssh.Client) {
	s := &e.settings
	if e.hop == "" {
		e.logger.Info("SSH connection established", "target", e.target(),
			"server_version", string(client.ServerVersion()))
	} else {
		e.logger.Debug("jump host connected", "hop", e.hop, "server_version", string(client.ServerVersion()))
	}
	if s.serverAliveInterval > 0 {
		startKeepalive(client, s.serverAliveInterval, s.serverAliveCountMax, e.logger, e.target())
	}
}

// hopError names the jump host in an error that happened there.
func (e *endpoint) hopError(err error) error {
	if e.hop == "" {
		return err
	}
	var de *DialError
	if errors.As(err, &de) && de.Hop == "" {
		de.Hop = e.hop
		return err
	}
	return fmt.Errorf("%s: %w", e.hop, err)
}

func closeClients(clients []*ssh.Client) {
	for i := len(clients) - 1; i >= 0; i-- {
		clients[i].Close()
	}
}

// handshake runs the SSH handshake and authentication on conn.
func (e *endpoint) handshake(ctx context.Context, conn net.Conn) (*ssh.Client, error) {
	a := &dialAttempt{ctx: ctx, conn: conn, timeout: e.settings.connectTimeout}
	a.armDeadline()
	// Cancelling ctx expires the deadline, which aborts the blocked read.
	stopCancel := context.AfterFunc(ctx, a.expireDeadline)

	hostKeyAlgorithms, err := e.hostKeys.hostKeyAlgorithms()
	if err != nil {
		stopCancel()
		return nil, err
	}
	auth, closeAgent := e.creds.authMethods(a)
	config := &ssh.ClientConfig{
		User:              e.settings.user,
		Auth:              auth,
		HostKeyCallback:   a.hostKeyCallback(e.hostKeys),
		HostKeyAlgorithms: hostKeyAlgorithms,
		BannerCallback: func(message string) error {
			e.logger.Debug("server banner", "target", e.target(), "banner", message)
			return nil
		},
	}

	sshConn, channels, requests, err := ssh.NewClientConn(conn, e.hostKeys.address, config)
	closeAgent()
	cancelled := !stopCancel()
	if cancelled && err == nil {
		sshConn.Close()
	}
	if cancelled {
		return nil, fmt.Errorf("remote: dial %s: %w", e.target(), context.Cause(ctx))
	}
	if err != nil {
		return nil, e.classifyHandshakeError(a, err)
	}

	if err := conn.SetDeadline(time.Time{}); err != nil {
		sshConn.Close()
		return nil, fmt.Errorf("remote: dial %s: %w", e.target(), err)
	}
	if b, ok := conn.(*batchConn); ok {
		b.startBatching()
	}
	e.creds.rememberPassword(a)
	return ssh.NewClient(sshConn, channels, requests), nil
}

// classifyHandshakeError turns a failed ssh.NewClientConn into a *DialError.
func (e *endpoint) classifyHandshakeError(a *dialAttempt, err error) error {
	state := a.snapshot()
	if state.hostKeyErr != nil {
		return state.hostKeyErr
	}

	s := &e.settings
	de := &DialError{Host: s.hostName, Port: s.port, User: s.user, Err: err}
	var netErr net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout(),
		a.timeout > 0 && !time.Now().Before(state.deadline):
		de.Kind = KindTimedOut
		de.Timeout = s.connectTimeout
	case state.hostKeyAccepted && isAuthFailure(err):
		de.Kind = KindAuthFailed
		de.Methods = state.methods
	default:
		de.Kind = KindHandshakeFailed
	}
	return de
}

// isAuthFailure reports whether err from ssh.NewClientConn means the server
// rejected the credentials.
func isAuthFailure(err error) bool {
	if errors.As(err, new(*authInputError)) {
		return true
	}
	// NOTE: x/crypto/ssh v0.59.0 has no error type for a rejected login, so
	// these match its message and the disconnect reasons OpenSSH's sshd
	// sends after MaxAuthTries failures.
	message := strings.ToLower(err.Error())
	for _, text := range []string{
		"unable to authenticate",
		"too many authentication failures",
		"no more authentication methods",
	} {
		if strings.Contains(message, text) {
			return true
		}
	}
	return false
}

// dialAttempt is the state of one Dial. x/crypto/ssh calls the host key
// callback from its key exchange goroutine, also on later key
// re-exchanges, and the auth callbacks from the dialling goroutine, so mu
// guards the fields below it.
type dialAttempt struct {
	ctx     context.Context
	conn    net.Conn
	timeout time.Duration

	mu                  sync.Mutex
	deadline            time.Time
	hostKeyErr          error
	hostKeyAccepted     bool
	hostKeyChanged      bool
	methods             []string
	storedPasswordTaken bool
	typedPassword       string
	havePasswordTyped   bool
}

type attemptState struct {
	deadline        time.Time
	hostKeyErr      error
	hostKeyAccepted bool
	methods         []string
}

func (a *dialAttempt) snapshot() attemptState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return attemptState{a.deadline, a.hostKeyErr, a.hostKeyAccepted, append([]string(nil), a.methods...)}
}

func (a *dialAttempt) armDeadline() {
	if a.timeout <= 0 {
		return
	}
	a.mu.Lock()
	a.deadline = time.Now().Add(a.timeout)
	deadline := a.deadline
	a.mu.Unlock()
	a.conn.SetDeadline(deadline)
}

func (a *dialAttempt) expireDeadline() {
	a.conn.SetDeadline(time.Unix(1, 0))
}

// pauseDeadline removes the deadline while the user types at a prompt.
func (a *dialAttempt) pauseDeadline() {
	a.conn.SetDeadline(time.Time{})
}

// resumeDeadline restarts the full timeout after a prompt, unless ctx
// ended meanwhile.
func (a *dialAttempt) resumeDeadline() {
	a.armDeadline()
	if a.ctx.Err() != nil {
		a.expireDeadline()
	}
}

func (a *dialAttempt) hostKeyCallback(checker *hostKeyChecker) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		verdict, err := checker.check(remote, key)
		a.mu.Lock()
		defer a.mu.Unlock()
		if err != nil {
			a.hostKeyErr = err
			return err
		}
		a.hostKeyAccepted = true
		a.hostKeyChanged = verdict == hostKeyInsecureChanged
		return nil
	}
}

func (a *dialAttempt) recordMethod(method string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range a.methods {
		if m == method {
			return
		}
	}
	a.methods = append(a.methods, method)
}

// checkSecretsAllowed refuses to send a password to a server whose host
// key changed, as OpenSSH does under StrictHostKeyChecking=no.
func (a *dialAttempt) checkSecretsAllowed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hostKeyChanged {
		return &authInputError{"password authentication is disabled because the host key has changed"}
	}
	return nil
}

// takeStoredPassword reports whether the stored password may be sent, which
// is once per dial.
func (a *dialAttempt) takeStoredPassword() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.storedPasswordTaken {
		return false
	}
	a.storedPasswordTaken = true
	return true
}

func (a *dialAttempt) setTypedPassword(password string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.typedPassword, a.havePasswordTyped = password, true
}

func (a *dialAttempt) typedPasswordValue() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.typedPassword, a.havePasswordTyped
}

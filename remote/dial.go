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

// Dialer opens authenticated SSH connections to one server. It resolves the
// ssh_config once and keeps the credentials it unlocked (key passphrases,
// password) so that redials never prompt again. A Dialer is safe for
// concurrent use.
type Dialer struct {
	settings settings
	logger   *slog.Logger
	hostKeys *hostKeyChecker
	creds    *credentials
}

// NewDialer applies the ssh_config file to o, loads the keys and prompts for
// any passphrase they need. The password is read here from o.Stdin when
// o.PasswordStdin is set. Otherwise the first Dial that needs a password
// prompts for it on the terminal, and later dials reuse it.
func NewDialer(o Options) (*Dialer, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, err := resolveSettings(o)
	if err != nil {
		return nil, err
	}
	creds, err := newCredentials(o, s, logger)
	if err != nil {
		return nil, err
	}
	d := &Dialer{
		settings: s,
		logger:   logger,
		hostKeys: newHostKeyChecker(s, logger),
		creds:    creds,
	}
	logger.Debug("SSH settings resolved", "target", d.Target(), "alias", s.alias,
		"identity_files", len(s.identityFiles), "known_hosts", s.knownHostsFiles,
		"strict_host_key_checking", s.strictHostKeyChecking, "connect_timeout", s.connectTimeout,
		"server_alive_interval", s.serverAliveInterval, "server_alive_count_max", s.serverAliveCountMax)
	return d, nil
}

// Target returns "user@host:port" with the resolved HostName and port.
func (d *Dialer) Target() string {
	return d.settings.user + "@" + net.JoinHostPort(d.settings.hostName, strconv.Itoa(d.settings.port))
}

// User returns the resolved remote user.
func (d *Dialer) User() string { return d.settings.user }

// Dial connects, checks the host key, authenticates and starts keepalives.
// ConnectTimeout bounds the TCP connect and the handshake together, except
// for the time spent waiting at a terminal prompt. Connection failures are
// *DialError values, and IsPermanent reports whether a retry can succeed.
// When ctx ends first, the error wraps ctx.Err().
func (d *Dialer) Dial(ctx context.Context) (*ssh.Client, error) {
	s := &d.settings
	address := net.JoinHostPort(s.hostName, strconv.Itoa(s.port))
	netDialer := net.Dialer{Timeout: s.connectTimeout}
	conn, err := netDialer.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, classifyConnectError(ctx, err, s.hostName, s.port, s.connectTimeout)
	}

	client, err := d.handshake(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}

	d.logger.Info("SSH connection established", "target", d.Target(),
		"server_version", string(client.ServerVersion()))
	if s.serverAliveInterval > 0 {
		startKeepalive(client, s.serverAliveInterval, s.serverAliveCountMax, d.logger, d.Target())
	}
	return client, nil
}

// handshake runs the SSH handshake and authentication on conn.
func (d *Dialer) handshake(ctx context.Context, conn net.Conn) (*ssh.Client, error) {
	a := &dialAttempt{ctx: ctx, conn: conn, timeout: d.settings.connectTimeout}
	a.armDeadline()
	// Cancelling ctx expires the deadline, which aborts the blocked read.
	stopCancel := context.AfterFunc(ctx, a.expireDeadline)

	hostKeyAlgorithms, err := d.hostKeys.hostKeyAlgorithms()
	if err != nil {
		stopCancel()
		return nil, err
	}
	auth, closeAgent := d.creds.authMethods(a)
	config := &ssh.ClientConfig{
		User:              d.settings.user,
		Auth:              auth,
		HostKeyCallback:   a.hostKeyCallback(d.hostKeys),
		HostKeyAlgorithms: hostKeyAlgorithms,
		BannerCallback: func(message string) error {
			d.logger.Debug("server banner", "target", d.Target(), "banner", message)
			return nil
		},
	}

	sshConn, channels, requests, err := ssh.NewClientConn(conn, d.hostKeys.address, config)
	closeAgent()
	cancelled := !stopCancel()
	if cancelled && err == nil {
		sshConn.Close()
	}
	if cancelled {
		return nil, fmt.Errorf("remote: dial %s: %w", d.Target(), context.Cause(ctx))
	}
	if err != nil {
		return nil, d.classifyHandshakeError(a, err)
	}

	if err := conn.SetDeadline(time.Time{}); err != nil {
		sshConn.Close()
		return nil, fmt.Errorf("remote: dial %s: %w", d.Target(), err)
	}
	d.creds.rememberPassword(a)
	return ssh.NewClient(sshConn, channels, requests), nil
}

// classifyHandshakeError turns a failed ssh.NewClientConn into a *DialError.
func (d *Dialer) classifyHandshakeError(a *dialAttempt, err error) error {
	state := a.snapshot()
	if state.hostKeyErr != nil {
		return state.hostKeyErr
	}

	s := &d.settings
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

package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
)

// maxJumpHosts bounds a ProxyJump chain, including the jump hosts that the
// first hop's own ssh_config entry adds, so that a config loop such as
// "Host a" with "ProxyJump a" fails instead of recursing forever. OpenSSH
// has no such limit, and 16 is far above real chains.
const maxJumpHosts = 16

// jumpSpec is one ProxyJump entry, "[user@]host[:port]" or
// "ssh://[user@]host[:port]". Port 0 and user "" leave the choice to the
// ssh_config file and the defaults.
type jumpSpec struct {
	user string
	host string
	port int
}

// parseProxyJump splits a ProxyJump value into its hops.
func parseProxyJump(value string) ([]jumpSpec, error) {
	var specs []jumpSpec
	for _, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("invalid ProxyJump %q: empty jump host", value)
		}
		spec, err := parseJumpSpec(entry)
		if err != nil {
			return nil, fmt.Errorf("invalid ProxyJump %q: %v", value, err)
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func parseJumpSpec(entry string) (jumpSpec, error) {
	if strings.HasPrefix(entry, "ssh://") {
		u, err := url.Parse(entry)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return jumpSpec{}, fmt.Errorf("jump host %q is not an ssh://[user@]host[:port] URI", entry)
		}
		entry = u.Host
		if u.User != nil {
			entry = u.User.Username() + "@" + entry
		}
	}

	var spec jumpSpec
	hostPort := entry
	if at := strings.LastIndex(entry, "@"); at >= 0 {
		spec.user, hostPort = entry[:at], entry[at+1:]
		if spec.user == "" {
			return jumpSpec{}, fmt.Errorf("jump host %q has an empty user name", entry)
		}
	}

	host, portText := hostPort, ""
	switch {
	case strings.HasPrefix(hostPort, "["):
		end := strings.Index(hostPort, "]")
		if end < 0 {
			return jumpSpec{}, fmt.Errorf("jump host %q lacks the closing ] of an IPv6 address", entry)
		}
		host = hostPort[1:end]
		rest := hostPort[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return jumpSpec{}, fmt.Errorf("jump host %q has text after the IPv6 address", entry)
		}
		portText = strings.TrimPrefix(rest, ":")
	case strings.Count(hostPort, ":") == 1:
		host, portText, _ = strings.Cut(hostPort, ":")
	}
	if host == "" {
		return jumpSpec{}, fmt.Errorf("jump host %q has no host name", entry)
	}
	spec.host = host
	if portText != "" {
		port, err := strconv.Atoi(portText)
		if err != nil || port < 1 || port > 65535 {
			return jumpSpec{}, fmt.Errorf("jump host %q has an invalid port: expected a number from 1 to 65535", entry)
		}
		spec.port = port
	}
	return spec, nil
}

// resolveProxy sets proxyJump and proxyCommand. A value in o wins over the
// file, and within the file the directive that comes first wins, as
// OpenSSH uses the first ProxyJump or ProxyCommand it obtains.
func (s *settings) resolveProxy(o Options, lookup configLookup, tokens map[byte]string) error {
	if o.ProxyJump != "" && o.ProxyCommand != "" {
		return errors.New("ProxyJump and ProxyCommand exclude each other: give only one")
	}
	keyword, value := "ProxyJump", o.ProxyJump
	if o.ProxyCommand != "" {
		keyword, value = "ProxyCommand", o.ProxyCommand
	}
	if value == "" {
		var err error
		if keyword, value, err = firstProxyDirective(lookup); err != nil {
			return err
		}
	}
	if value == "" || strings.EqualFold(value, "none") {
		return nil
	}

	if keyword == "ProxyJump" {
		if _, err := parseProxyJump(value); err != nil {
			return err
		}
		s.proxyJump = value
		return nil
	}
	// ssh_config(5) of OpenSSH 9 lists %%, %h, %n, %p and %r for ProxyCommand.
	command, err := expandTokens(value, map[byte]string{
		'h': tokens['h'], 'n': tokens['n'], 'p': tokens['p'], 'r': tokens['r'],
	})
	if err != nil {
		return fmt.Errorf("invalid ProxyCommand %q: %v", value, err)
	}
	s.proxyCommand = command
	return nil
}

// firstProxyDirective returns whichever of ProxyJump and ProxyCommand
// applies first to the host in the ssh_config file.
func firstProxyDirective(lookup configLookup) (keyword, value string, err error) {
	if lookup.config == nil {
		return "", "", nil
	}
	for _, host := range lookup.config.Hosts {
		if !host.Matches(lookup.alias) {
			continue
		}
		for _, node := range host.Nodes {
			switch n := node.(type) {
			case *ssh_config.KV:
				switch strings.ToLower(n.Key) {
				case "proxyjump":
					return "ProxyJump", n.Value, nil
				case "proxycommand":
					return "ProxyCommand", n.Value, nil
				}
			case *ssh_config.Include:
				// NOTE: ssh_config v1.6.0 hides the files of an Include, so
				// when one included file sets both keywords for the host,
				// ProxyJump wins whatever their order.
				if value := n.Get(lookup.alias, "ProxyJump"); value != "" {
					return "ProxyJump", value, nil
				}
				if value := n.Get(lookup.alias, "ProxyCommand"); value != "" {
					return "ProxyCommand", value, nil
				}
			}
		}
	}
	return "", "", nil
}

// resolveJumpHosts returns the settings of every jump host of value in dial
// order. The jump hosts get fallback (the -o options) where the ssh_config
// file sets nothing for them. As with OpenSSH, which reaches each later hop
// with "ssh -J", only the first hop's own ProxyJump or ProxyCommand from the
// file is used.
func resolveJumpHosts(value string, fallback Options, env configEnv, count int) ([]settings, error) {
	specs, err := parseProxyJump(value)
	if err != nil {
		return nil, err
	}
	var hops []settings
	for i, spec := range specs {
		hop, err := resolveHost(Options{Host: spec.host, Port: spec.port, User: spec.user}, fallback, env)
		if err != nil {
			return nil, fmt.Errorf("jump host %q: %w", spec.host, err)
		}
		if i > 0 {
			hop.proxyJump, hop.proxyCommand = "", ""
		}
		if hop.proxyJump != "" {
			if count+len(hops)+1 > maxJumpHosts {
				return nil, fmt.Errorf("ProxyJump chain is longer than %d hosts at jump host %q: check ssh_config for a ProxyJump loop", maxJumpHosts, spec.host)
			}
			before, err := resolveJumpHosts(hop.proxyJump, fallback, env, count+len(hops)+1)
			if err != nil {
				return nil, err
			}
			hops = append(hops, before...)
			hop.proxyJump = ""
		}
		hops = append(hops, hop)
		if count+len(hops) > maxJumpHosts {
			return nil, fmt.Errorf("ProxyJump chain is longer than %d hosts: check ssh_config for a ProxyJump loop", maxJumpHosts)
		}
	}
	return hops, nil
}

// dialThrough opens a TCP connection to e's host through the SSH client
// via, as "ssh -W" does with a direct-tcpip channel.
func (e *endpoint) dialThrough(ctx context.Context, via *ssh.Client, viaName string) (net.Conn, error) {
	s := &e.settings
	address := net.JoinHostPort(s.hostName, strconv.Itoa(s.port))
	openCtx := ctx
	if s.connectTimeout > 0 {
		var cancel context.CancelFunc
		openCtx, cancel = context.WithTimeout(ctx, s.connectTimeout)
		defer cancel()
	}
	conn, err := via.DialContext(openCtx, "tcp", address)
	if err == nil {
		return &channelConn{Conn: conn}, nil
	}

	var openErr *ssh.OpenChannelError
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("remote: open %s through %s: %w", address, viaName, context.Cause(ctx))
	case errors.Is(err, context.DeadlineExceeded):
		return nil, &DialError{Kind: KindTimedOut, Host: s.hostName, Port: s.port, Timeout: s.connectTimeout, Err: err}
	case errors.As(err, &openErr):
		return nil, &DialError{Kind: KindForwardingFailed, Host: s.hostName, Port: s.port, Via: viaName, Err: err}
	}
	return nil, fmt.Errorf("remote: open %s through %s: %w", address, viaName, err)
}

// channelConn adds deadlines to a direct-tcpip channel, which x/crypto/ssh
// v0.59.0 does not support. An expired deadline closes the channel, so it
// only suits the handshake, whose deadline ends the attempt anyway.
type channelConn struct {
	net.Conn

	mu      sync.Mutex
	timer   *time.Timer
	expired bool
}

func (c *channelConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if t.IsZero() || c.expired {
		return nil
	}
	c.timer = time.AfterFunc(time.Until(t), c.expire)
	return nil
}

func (c *channelConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *channelConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

func (c *channelConn) expire() {
	c.mu.Lock()
	c.expired = true
	c.mu.Unlock()
	c.Conn.Close()
}

func (c *channelConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, c.deadlineError(err)
}

func (c *channelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, c.deadlineError(err)
}

// deadlineError reports a failure caused by an expired deadline as
// os.ErrDeadlineExceeded, as a net.Conn does.
func (c *channelConn) deadlineError(err error) error {
	if err == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired {
		return os.ErrDeadlineExceeded
	}
	return err
}

// proxyStderrMax is how much of a ProxyCommand's standard error is kept
// for error messages.
const proxyStderrMax = 2048

// startProxyCommand runs command with /bin/sh -c, as OpenSSH does with
// "exec" in front of it, and returns a connection over its standard input
// and output. Closing the connection ends the command.
func startProxyCommand(command string, logger *slog.Logger) (*commandConn, error) {
	// Pipes from os.Pipe support deadlines, which the handshake needs.
	stdinRead, stdinWrite, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("remote: ProxyCommand: %w", err)
	}
	stdoutRead, stdoutWrite, err := os.Pipe()
	if err != nil {
		stdinRead.Close()
		stdinWrite.Close()
		return nil, fmt.Errorf("remote: ProxyCommand: %w", err)
	}

	c := &commandConn{command: command, in: stdinWrite, out: stdoutRead, exited: make(chan struct{})}
	cmd := exec.Command("/bin/sh", "-c", "exec "+command)
	cmd.Stdin = stdinRead
	cmd.Stdout = stdoutWrite
	cmd.Stderr = &c.stderr
	err = cmd.Start()
	stdinRead.Close()
	stdoutWrite.Close()
	if err != nil {
		stdinWrite.Close()
		stdoutRead.Close()
		return nil, fmt.Errorf("remote: cannot start ProxyCommand %q: %w", command, err)
	}
	c.cmd = cmd
	logger.Debug("ProxyCommand started", "command", command, "pid", cmd.Process.Pid)
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
		logger.Debug("ProxyCommand exited", "command", command, "pid", cmd.Process.Pid, "status", cmd.ProcessState.String())
	}()
	return c, nil
}

// commandConn is a net.Conn over the standard input and output of a
// ProxyCommand.
type commandConn struct {
	command string
	cmd     *exec.Cmd
	in      *os.File // the command's standard input
	out     *os.File // the command's standard output
	stderr  tailBuffer

	exited  chan struct{}
	waitErr error // set before exited closes

	closeOnce sync.Once
}

func (c *commandConn) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *commandConn) Write(p []byte) (int, error) { return c.in.Write(p) }

// Close closes the pipes and, when the command has not exited within a
// second of losing its input, sends it SIGTERM.
func (c *commandConn) Close() error {
	c.closeOnce.Do(func() {
		c.in.Close()
		c.out.Close()
		go func() {
			select {
			case <-c.exited:
			case <-time.After(time.Second):
				c.cmd.Process.Signal(syscall.SIGTERM)
			}
		}()
	})
	return nil
}

func (c *commandConn) LocalAddr() net.Addr { return proxyAddr{} }

// RemoteAddr returns a zero TCP address, as x/crypto/ssh does for a
// direct-tcpip channel, because knownhosts splits it into host and port.
func (c *commandConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

func (c *commandConn) SetDeadline(t time.Time) error {
	return errors.Join(c.in.SetDeadline(t), c.out.SetDeadline(t))
}
func (c *commandConn) SetReadDeadline(t time.Time) error  { return c.out.SetDeadline(t) }
func (c *commandConn) SetWriteDeadline(t time.Time) error { return c.in.SetDeadline(t) }

// exitDescription describes how the command ended and what it wrote to
// standard error, or returns "" while it still runs.
func (c *commandConn) exitDescription() string {
	select {
	case <-c.exited:
	case <-time.After(100 * time.Millisecond):
		return ""
	}
	status := "exited with status 0"
	if c.waitErr != nil {
		status = c.waitErr.Error()
	}
	if tail := strings.Join(strings.Fields(c.stderr.String()), " "); tail != "" {
		return fmt.Sprintf("ProxyCommand %q %s: %s", c.command, status, tail)
	}
	return fmt.Sprintf("ProxyCommand %q %s", c.command, status)
}

type proxyAddr struct{}

func (proxyAddr) Network() string { return "pipe" }
func (proxyAddr) String() string  { return "proxycommand" }

// tailBuffer keeps the last proxyStderrMax bytes written to it.
type tailBuffer struct {
	mu   sync.Mutex
	data []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.data = append(b.data, p...)
	if len(b.data) > proxyStderrMax {
		b.data = append([]byte(nil), b.data[len(b.data)-proxyStderrMax:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.data)
}

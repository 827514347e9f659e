package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// ClientOptions tune the pool of SFTP sessions.
type ClientOptions struct {
	// MaxConns is the number of SSH connections; 0 means DefaultMaxConns.
	MaxConns int
	// OpTimeout bounds how long an operation waits for the server while it
	// is unreachable; 0 means DefaultOpTimeout.
	OpTimeout time.Duration
	Logger    *slog.Logger
}

const (
	// DefaultMaxConns is the pool size when ClientOptions does not set one.
	DefaultMaxConns = 4
	// DefaultOpTimeout is how long an operation waits for an unreachable
	// server before it fails with ETIMEDOUT.
	DefaultOpTimeout = 60 * time.Second
	// safeReadSize is the request size every SFTP server must honour.
	safeReadSize = 32768
	// opensshMaxRead is the longest read OpenSSH's sftp-server serves in one
	// reply (256 KiB less 1 KiB of headroom, sftp-server.c in OpenSSH 9.x).
	opensshMaxRead = 261120
)

// Capabilities are the OpenSSH extensions the server announced.
type Capabilities struct {
	PosixRename, Hardlink, StatVFS, Fsync, Lsetstat bool
}

// Client is the pooled SFTP client the file system talks to. It keeps
// MaxConns SSH connections, each with one SFTP session for files and
// metadata and one for extended requests, and redials a connection that
// dies, with exponential backoff, in the background.
//
// Operations never hold a Client lock across a network round trip.
type Client struct {
	dialer *Dialer
	opts   ClientOptions
	log    *slog.Logger

	// caps holds the extensions announced by the server; an extension whose
	// requests the server denies (sftp-server -P) is switched off.
	capMu sync.Mutex
	caps  Capabilities

	// Set once by Connect from the first connection.
	readSize int
	home     string
	// rtt is the shortest of a few keepalive round trips at connect time.
	rtt time.Duration

	// fileUmask and dirUmask are the server's umask as seen on the first
	// created file and directory, or -1 until then.
	fileUmask, dirUmask atomic.Int32

	slots    []*slot
	next     atomic.Uint32
	counters counters
	// downSince is the time of the latest operation timeout with no reply
	// from the server since, in Unix nanoseconds, or 0.
	downSince atomic.Int64

	// sends tracks requests whose transmission a caller waits for.
	sends sendRegistry
	// inOrder is set, once by Connect, when the server is OpenSSH's
	// sftp-server. It applies the requests of one session one at a time
	// in the order they arrive, but other servers may run them
	// concurrently.
	inOrder bool

	closeOnce sync.Once
	done      chan struct{}
}

// Stats counts connection events for status reports.
type Stats struct {
	Reconnects uint64
}

// conn is one live SSH connection with its SFTP sessions.
type conn struct {
	ssh  *ssh.Client
	sftp *sftp.Client
	ext  *extChannel
	dead chan struct{} // closed once the connection has ended
}

func (cn *conn) isDead() bool {
	select {
	case <-cn.dead:
		return true
	default:
		return false
	}
}

func (cn *conn) close() {
	cn.sftp.Close()
	cn.ssh.Close()
}

// poolWait bounds how long Connect waits for the pool's other connections.
const poolWait = 5 * time.Second

// Connect dials the first connection and opens its SFTP session, then
// dials the other connections of the pool and waits up to poolWait for
// their first attempts. A program that starts right after the mount then
// does not share the CPU with the set-up of the rest of the pool. A slot
// whose attempt fails or takes longer keeps trying in the background.
func Connect(ctx context.Context, d *Dialer, o ClientOptions) (*Client, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{dialer: d, opts: o, log: log, done: make(chan struct{})}
	c.fileUmask.Store(-1)
	c.dirUmask.Store(-1)

	first, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.learn(first)
	c.rtt = measureRTT(first)

	for i := 0; i < o.MaxConns; i++ {
		s := &slot{c: c, id: i, ready: make(chan struct{}), wake: make(chan struct{}, 1)}
		c.slots = append(c.slots, s)
	}
	c.slots[0].set(first)
	go c.slots[0].maintain()
	for _, s := range c.slots[1:] {
		go s.maintain()
	}
	c.awaitSlots(ctx, poolWait)
	return c, nil
}

// awaitSlots waits until every slot has connected or failed an attempt,
// ctx ends, or limit has passed.
func (c *Client) awaitSlots(ctx context.Context, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for _, s := range c.slots[1:] {
		cn, ready, failed, lastErr := s.current()
		if cn != nil || lastErr != nil {
			continue
		}
		select {
		case <-ready:
		case <-failed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// dial opens one SSH connection with both SFTP sessions.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	sc, err := c.dialer.Dial(ctx)
	if err != nil {
		return nil, err
	}
	cn, err := c.openSessions(sc)
	if err != nil {
		sc.Close()
		return nil, err
	}
	return cn, nil
}

func (c *Client) openSessions(sc *ssh.Client) (*conn, error) {
	readSize := c.readSize
	if readSize == 0 {
		readSize = safeReadSize
	}
	cn := &conn{ssh: sc, dead: make(chan struct{})}
	sf, err := c.newSFTP(cn, readSize)
	if err != nil {
		return nil, fmt.Errorf("cannot start SFTP on %s: %w: check that the server enables the sftp subsystem and that the login shell prints nothing for non-interactive sessions", c.dialer.Target(), err)
	}
	ext, err := openExtChannel(sc)
	if err != nil {
		sf.Close()
		return nil, err
	}
	cn.sftp, cn.ext = sf, ext
	ext.predictHandles(c.inOrder)
	go func() {
		sc.Wait()
		close(cn.dead)
		sf.Close()
		ext.close()
	}()
	return cn, nil
}

// newSFTP starts an SFTP session on cn's SSH connection whose requests
// pass through a wireTap, with requests of up to packet bytes.
func (c *Client) newSFTP(cn *conn, packet int) (*sftp.Client, error) {
	session, err := cn.ssh.NewSession()
	if err != nil {
		return nil, err
	}
	w, err := session.StdinPipe()
	if err != nil {
		session.Close()
		return nil, err
	}
	r, err := session.StdoutPipe()
	if err != nil {
		session.Close()
		return nil, err
	}
	if err := session.RequestSubsystem("sftp"); err != nil {
		session.Close()
		return nil, err
	}
	tap := &wireTap{w: w, reg: &c.sends, cn: cn}
	sf, err := sftp.NewClientPipe(r, tap, sftp.MaxPacketUnchecked(packet), sftp.UseConcurrentWrites(true))
	if err != nil {
		session.Close()
		return nil, err
	}
	return sf, nil
}

// learn records the server's extensions, read size and home directory.
func (c *Client) learn(cn *conn) {
	has := func(name string) bool { _, ok := cn.sftp.HasExtension(name); return ok }
	c.caps = Capabilities{
		PosixRename: has("posix-rename@openssh.com"),
		Hardlink:    has("hardlink@openssh.com"),
		StatVFS:     has("statvfs@openssh.com"),
		Fsync:       has("fsync@openssh.com"),
		Lsetstat:    cn.ext.has("lsetstat@openssh.com"),
	}

	c.probeDenied(cn)

	c.inOrder = strings.HasPrefix(string(cn.ssh.ServerVersion()), "SSH-2.0-OpenSSH") && cn.ext.has("limits@openssh.com")
	cn.ext.predictHandles(c.inOrder)

	c.readSize = safeReadSize
	if cn.ext.has("limits@openssh.com") {
		_, maxRead, _, _, err := cn.ext.limits()
		if err == nil && maxRead >= safeReadSize {
			c.readSize = int(min(maxRead, opensshMaxRead))
		}
	}
	if c.readSize > safeReadSize {
		// Reopen the SFTP session so pkg/sftp uses the larger packet size.
		if sf, err := c.newSFTP(cn, c.readSize); err == nil {
			old := cn.sftp
			cn.sftp = sf
			old.Close()
		} else {
			c.readSize = safeReadSize
		}
	}

	if home, err := cn.sftp.Getwd(); err == nil {
		c.home = home
	}
	c.log.Debug("server capabilities", "posix_rename", c.caps.PosixRename, "hardlink", c.caps.Hardlink,
		"statvfs", c.caps.StatVFS, "fsync", c.caps.Fsync, "lsetstat", c.caps.Lsetstat, "read_size", c.readSize)
}

// Capabilities returns the OpenSSH extensions of the server that work.
func (c *Client) Capabilities() Capabilities {
	c.capMu.Lock()
	defer c.capMu.Unlock()
	return c.caps
}

// ReadSize is the largest read request the server serves whole.
func (c *Client) ReadSize() int { return c.readSize }

// ResolveDir returns the absolute remote path of dir ("" or a relative path
// is taken relative to the remote home), or an error naming dir when it is
// missing or not a directory.
func (c *Client) ResolveDir(ctx context.Context, dir string) (string, error) {
	p := dir
	if !path.IsAbs(p) {
		p = path.Join(c.home, p)
	}
	p = path.Clean(p)
	a, err := c.Stat(ctx, p)
	if err != nil {
		return "", &DirError{Dir: dir, Target: c.dialer.Target(), Err: err}
	}
	if !a.IsDir() {
		return "", &DirError{Dir: dir, Target: c.dialer.Target(), NotDir: true}
	}
	return p, nil
}

// DirError reports a remote mount directory that cannot be used.
type DirError struct {
	Dir, Target string
	NotDir      bool
	Err         error
}

func (e *DirError) Error() string {
	shown := e.Dir
	if shown == "" {
		shown = "(home directory)"
	}
	switch {
	case e.NotDir:
		return fmt.Sprintf("remote path %q on %s is not a directory: give a directory after the colon", shown, e.Target)
	case errors.Is(e.Err, errNoEnt):
		return fmt.Sprintf("remote directory %q does not exist on %s: check the path after the colon", shown, e.Target)
	case errors.Is(e.Err, errAccess):
		return fmt.Sprintf("remote directory %q on %s is not accessible: permission denied", shown, e.Target)
	}
	return fmt.Sprintf("remote directory %q on %s: %v", shown, e.Target, e.Err)
}

func (e *DirError) Unwrap() error { return e.Err }

// RemoteIDs returns the uid and gid that own the login's home directory,
// used by idmap=user.
func (c *Client) RemoteIDs(ctx context.Context) (uid, gid uint32, err error) {
	a, err := c.Stat(ctx, c.home)
	if err != nil {
		return 0, 0, err
	}
	return a.UID, a.GID, nil
}

// Close ends every connection.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		for _, s := range c.slots {
			s.shutdown()
		}
	})
	return nil
}

// measureRTT returns the shortest of three keepalive round trips on cn, or
// 0 when the server does not reply.
func measureRTT(cn *conn) time.Duration {
	var best time.Duration
	for range 3 {
		start := time.Now()
		if _, _, err := cn.ssh.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			return best
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return best
}

// RTT returns the round-trip time measured at connect time.
func (c *Client) RTT() time.Duration { return c.rtt }

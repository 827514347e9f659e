package remote

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// Backoff bounds for redials.
const (
	redialMinDelay = 250 * time.Millisecond
	redialMaxDelay = 30 * time.Second
	// permanentRetry is how often a redial that failed authentication or the
	// host key check is tried again, so that a fixed server recovers the
	// mount without tripping brute-force protection.
	permanentRetry = 5 * time.Minute
	// permanentWakeGap is the shortest time between two redials after one
	// failed authentication or the host key check, however many operations
	// wait for the server.
	permanentWakeGap = time.Minute
)

// slot is one connection of the pool. maintain keeps it connected.
type slot struct {
	c  *Client
	id int

	// inflight counts the requests running on the slot's connection.
	inflight atomic.Int32

	mu    sync.Mutex // guards cur, ready, lastErr and closed
	cur   *conn      // nil while disconnected
	ready chan struct{}
	// lastErr is the error of the latest failed redial, which operations
	// that time out waiting report.
	lastErr error
	closed  bool

	// failed is closed, and replaced, each time a redial fails, so that
	// operations waiting for the connection see the new lastErr at once.
	failed chan struct{}

	// wake is signalled by waiting operations to cut a permanent-failure
	// pause short; it has a buffer of one.
	wake chan struct{}
}

func (s *slot) set(cn *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = cn
	s.lastErr = nil
	close(s.ready)
}

// current returns the live connection, or nil, a channel that is closed
// once one is set, and one that is closed when the next redial fails.
func (s *slot) current() (*conn, <-chan struct{}, <-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, nil, ErrClosed
	}
	if s.cur != nil && !s.cur.isDead() {
		return s.cur, nil, nil, nil
	}
	if s.failed == nil {
		s.failed = make(chan struct{})
	}
	return nil, s.ready, s.failed, s.lastErr
}

// maintain dials the slot when it has no connection and redials it, with
// exponential backoff, each time its connection ends.
func (s *slot) maintain() {
	log := s.c.log.With("conn", s.id)
	for {
		s.mu.Lock()
		cn := s.cur
		s.mu.Unlock()

		if cn != nil {
			select {
			case <-cn.dead:
			case <-s.c.done:
				return
			}
			log.Warn("connection lost", "target", s.c.dialer.Target(), "reason", connEndReason(cn))
			s.mu.Lock()
			s.cur = nil
			s.ready = make(chan struct{})
			s.mu.Unlock()
		}

		if !s.redial(log, cn != nil) {
			return
		}
	}
}

// redial dials until it succeeds or the client closes; it returns false
// when the client closed.
func (s *slot) redial(log interface {
	Info(string, ...any)
	Warn(string, ...any)
	Error(string, ...any)
}, lost bool) bool {
	start := time.Now()
	delay := redialMinDelay
	for attempt := 1; ; attempt++ {
		tried := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.c.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		cn, err := s.c.dial(ctx)
		cancel()
		if err != nil {
			select {
			case <-s.c.done:
				// The client closed during the dial, which cancelled it.
				return false
			default:
			}
		}
		if err == nil {
			select {
			case <-s.c.done:
				cn.close()
				return false
			default:
			}
			s.set(cn)
			s.c.downSince.Store(0)
			if lost {
				s.c.counters.reconnects.Add(1)
			}
			if attempt > 1 || lost {
				log.Info("reconnected", "target", s.c.dialer.Target(), "attempts", attempt, "after", time.Since(start).Round(time.Millisecond))
			}
			return true
		}

		s.mu.Lock()
		s.lastErr = err
		if s.failed != nil {
			close(s.failed)
			s.failed = nil
		}
		s.mu.Unlock()

		pause := delay
		if IsPermanent(err) {
			log.Error("redial rejected; operations fail with EIO until the cause is fixed or the mount is ended with 'gosshfs umount'",
				"target", s.c.dialer.Target(), "err", err, "next_try", permanentRetry)
			pause = permanentRetry
		} else {
			log.Warn("redial failed", "target", s.c.dialer.Target(), "attempt", attempt, "err", err, "retry_in", delay)
			delay = min(delay*2, redialMaxDelay)
		}

		// A waiting operation may cut the pause short, but never to less
		// than wakeGap after this attempt: a mount in use must not turn a
		// refused login into a stream of attempts.
		wakeGap := redialMinDelay * 4
		if IsPermanent(err) {
			wakeGap = permanentWakeGap
		}
		if !s.pause(tried, pause, wakeGap) {
			return false
		}
	}
}

// pause waits until pause has passed since tried, or until an operation
// signals wake once wakeGap has passed since tried. It returns false when
// the client closes.
func (s *slot) pause(tried time.Time, pause, wakeGap time.Duration) bool {
	timer := time.NewTimer(time.Until(tried.Add(pause)))
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return true
		case <-s.wake:
			if wait := time.Until(tried.Add(wakeGap)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-s.c.done:
					return false
				}
			}
			return true
		case <-s.c.done:
			return false
		}
	}
}

func (s *slot) shutdown() {
	s.mu.Lock()
	s.closed = true
	cn := s.cur
	s.mu.Unlock()
	if cn != nil {
		cn.close()
	}
}

func connEndReason(cn *conn) string {
	if err := cn.ssh.Wait(); err != nil {
		return err.Error()
	}
	return "closed by the server"
}

// acquire returns a live connection of slot i, waiting for a redial until
// deadline. A slot whose redials fail permanently fails at once.
func (c *Client) acquire(ctx context.Context, i int, deadline time.Time) (*conn, error) {
	ctx = context.WithoutCancel(ctx)
	s := c.slots[i%len(c.slots)]
	for {
		cn, ready, failed, lastErr := s.current()
		if cn != nil {
			return cn, nil
		}
		if errors.Is(lastErr, ErrClosed) {
			return nil, ErrClosed
		}
		if lastErr != nil && IsPermanent(lastErr) {
			select {
			case s.wake <- struct{}{}:
			default:
			}
			return nil, errors.Join(ErrNotConnected, lastErr)
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-ready:
			timer.Stop()
		case <-failed:
			// Look again: a permanent failure ends the wait at once.
			timer.Stop()
		case <-timer.C:
			err := errors.Join(ErrNotConnected, context.DeadlineExceeded)
			c.noteResult(err)
			return nil, err
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-c.done:
			timer.Stop()
			return nil, ErrClosed
		}
	}
}

// pickSpill is the number of requests in flight on a connection from
// which pick prefers the next one.
const pickSpill = 4

// pick returns a slot index for a metadata operation or a new file. It
// takes the first connected slot with fewer than pickSpill requests in
// flight, and the least busy one when all have that many. A serial
// workload thus stays on one connection, whose requests reach the server
// together and wake one sshd and sftp-server instead of one per
// connection, and concurrent requests spread over the pool.
func (c *Client) pick() int {
	best, bestLoad := -1, int32(math.MaxInt32)
	for i, s := range c.slots {
		if cn, _, _, _ := s.current(); cn == nil {
			continue
		}
		load := s.inflight.Load()
		if load < pickSpill {
			return i
		}
		if load < bestLoad {
			best, bestLoad = i, load
		}
	}
	if best < 0 {
		// Nothing is connected: wait on the slots in turn.
		return int(c.next.Add(1)) % len(c.slots)
	}
	return best
}

// running counts a request on slot i until the returned func is called.
func (c *Client) running(i int) func() {
	s := c.slots[i%len(c.slots)]
	s.inflight.Add(1)
	return func() { s.inflight.Add(-1) }
}

// call runs fn against a live connection and returns its error. When the
// connection dies under fn, call waits for the redial and runs fn again
// with retry set, until OpTimeout has passed since the call began. fn runs
// in its own goroutine so that a black-holed connection cannot hold the
// caller past the timeout.
func (c *Client) call(ctx context.Context, fn func(cn *conn, retry bool) error) error {
	ctx = context.WithoutCancel(ctx)
	deadline := c.deadline()
	i := c.pick()
	retry := false
	for {
		cn, err := c.acquire(ctx, i, deadline)
		if err != nil {
			return err
		}

		done := c.running(i)
		err = runUntil(ctx, deadline, func() error { defer done(); return fn(cn, retry) })
		c.noteResult(err)
		if err == nil || errors.Is(err, context.DeadlineExceeded) || !lostConn(cn, err) {
			return err
		}
		// The connection ended under fn: its outcome is unknown.
		retry = true
		if time.Now().After(deadline) {
			return errors.Join(ErrNotConnected, err)
		}
	}
}

// lostConn reports whether err means cn ended under the request. A
// transport error closes cn so that the slot redials even if the SSH layer
// has not noticed yet.
func lostConn(cn *conn, err error) bool {
	if cn.isDead() {
		return true
	}
	code := statusCode(err)
	var netErr *net.OpError
	transport := errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.As(err, &netErr) ||
		errors.Is(err, errExtClosed) || code == fxNoConnection || code == fxConnectionLost
	if errors.Is(err, io.EOF) {
		// io.EOF is either the server's EOF status or the channel closing
		// under the request; only the second is followed by the
		// connection's end.
		select {
		case <-cn.dead:
			return true
		case <-time.After(500 * time.Millisecond):
			return false
		}
	}
	if !transport || code == fxEOF {
		return false
	}
	select {
	case <-cn.dead:
	case <-time.After(2 * time.Second):
		cn.close()
	}
	return true
}

// downGrace is the wait for the server after an earlier operation timed
// out and nothing succeeded since. A second caller then fails fast instead
// of waiting a whole timeout again. The kernel retries a failed lookup
// once, which would otherwise double the wait.
const downGrace = 2 * time.Second

// deadline returns when an operation starting now must give up.
func (c *Client) deadline() time.Time {
	if c.downSince.Load() != 0 {
		return time.Now().Add(min(downGrace, c.opts.OpTimeout))
	}
	return time.Now().Add(c.opts.OpTimeout)
}

// noteResult records whether the server replied: a timeout marks it
// unreachable, and any reply or new connection clears that.
func (c *Client) noteResult(err error) {
	if errors.Is(err, context.DeadlineExceeded) && errors.Is(err, ErrNotConnected) {
		c.downSince.CompareAndSwap(0, time.Now().UnixNano())
		return
	}
	if err == nil || !errors.Is(err, ErrNotConnected) {
		c.downSince.Store(0)
	}
}

package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer accepts connections on 127.0.0.1 and echoes every byte until
// the client half-closes, then closes its side. It records the read error
// that ended each connection.
type echoServer struct {
	listener net.Listener
	mu       sync.Mutex
	endErrs  []error
	conns    []net.Conn
	wg       sync.WaitGroup
}

// errConnReset is the error that a read on a socket that received an RST
// wraps.
var errConnReset error = syscall.ECONNRESET

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{listener: l}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go e.serve(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) serve(c net.Conn) {
	defer e.wg.Done()
	defer c.Close()
	_, err := io.Copy(c, c)
	if err == nil {
		err = io.EOF
	}
	e.mu.Lock()
	e.endErrs = append(e.endErrs, err)
	e.mu.Unlock()
}

// endErrors returns the errors that ended the served connections so far.
func (e *echoServer) endErrors() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.endErrs...)
}

func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Start("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial the proxy at %s: %v", p.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads len(msg) bytes back within limit.
func roundTrip(c net.Conn, msg []byte, limit time.Duration) ([]byte, error) {
	c.SetDeadline(time.Now().Add(limit))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	return got, err
}

// waitFor polls cond every 5 ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func TestProxyForwardsBothWays(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())
	c := dial(t, p)

	msg := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB, many chunks
	got, err := roundTrip(c, msg, 5*time.Second)
	if err != nil {
		t.Fatalf("round trip through the proxy: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Errorf("echo through the proxy returned different bytes")
	}
	if n := p.Accepted(); n != 1 {
		t.Errorf("Accepted() = %d after one connection, want 1", n)
	}
	if n := p.Open(); n != 1 {
		t.Errorf("Open() = %d with one live connection, want 1", n)
	}
	if p.Port() == 0 {
		t.Errorf("Port() = 0, want the listening port of %s", p.Addr())
	}
}

func TestProxyForwardsHalfClose(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())
	c := dial(t, p)

	if _, err := c.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after half-close: %v", err)
	}
	if string(got) != "last words" {
		t.Errorf("read %q after half-close, want %q", got, "last words")
	}
	if !waitFor(5*time.Second, func() bool { return p.Open() == 0 }) {
		t.Errorf("Open() = %d after both sides closed, want 0", p.Open())
	}
}

func TestCutResetsBothSides(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())
	c := dial(t, p)
	if _, err := roundTrip(c, []byte("hello"), 5*time.Second); err != nil {
		t.Fatal(err)
	}

	if n := p.Cut(); n != 1 {
		t.Errorf("Cut() = %d with one open connection, want 1", n)
	}

	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, errConnReset) {
		t.Errorf("client read after Cut returned %v, want a connection reset", err)
	}
	if !waitFor(5*time.Second, func() bool { return len(echo.endErrors()) == 1 }) {
		t.Fatalf("the server side was not closed after Cut")
	}
	if err := echo.endErrors()[0]; !errors.Is(err, errConnReset) {
		t.Errorf("server read after Cut returned %v, want a connection reset", err)
	}
	if n := p.Open(); n != 0 {
		t.Errorf("Open() = %d after Cut, want 0", n)
	}

	// The proxy keeps accepting after a cut.
	again := dial(t, p)
	if _, err := roundTrip(again, []byte("again"), 5*time.Second); err != nil {
		t.Errorf("round trip on a new connection after Cut: %v", err)
	}
}

func TestBlackholeHoldsAndResumes(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())
	c := dial(t, p)
	if _, err := roundTrip(c, []byte("before"), 5*time.Second); err != nil {
		t.Fatal(err)
	}

	p.Blackhole(true)
	p.Blackhole(true) // idempotent
	if _, err := c.Write([]byte("during")); err != nil {
		t.Fatalf("write while black-holed: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := c.Read(make([]byte, 16))
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("read while black-holed returned %d bytes and %v, want a read timeout", n, err)
	}
	if got := len(echo.endErrors()); got != 0 {
		t.Errorf("the server side saw %d closed connections while black-holed, want 0", got)
	}

	p.Blackhole(false)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("during"))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read after the black hole ended: %v", err)
	}
	if string(got) != "during" {
		t.Errorf("read %q after the black hole ended, want the held bytes %q", got, "during")
	}
}

func TestBlackholeNewConnection(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())

	p.Blackhole(true)
	c := dial(t, p)
	if !waitFor(5*time.Second, func() bool { return p.Accepted() == 1 }) {
		t.Fatalf("Accepted() = %d after a connection while black-holed, want 1", p.Accepted())
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes on a new connection while black-holed, want none", n)
	}

	p.Blackhole(false)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 1)
	if _, err := io.ReadFull(c, got); err != nil || got[0] != 'x' {
		t.Errorf("read %q, %v after the black hole ended, want the held byte \"x\"", got, err)
	}
}

func TestBlackholeHoldsHalfClose(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())
	c := dial(t, p)
	if _, err := roundTrip(c, []byte("a"), 5*time.Second); err != nil {
		t.Fatal(err)
	}

	p.Blackhole(true)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := len(echo.endErrors()); got != 0 {
		t.Errorf("the server saw the half-close while black-holed")
	}

	p.Blackhole(false)
	if !waitFor(5*time.Second, func() bool { return len(echo.endErrors()) == 1 }) {
		t.Errorf("the server did not see the half-close after the black hole ended")
	}
}

func TestDelayAddsLatency(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())
	c := dial(t, p)

	const delay = 60 * time.Millisecond
	p.SetDelay(delay)
	start := time.Now()
	if _, err := roundTrip(c, []byte("slow"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("round trip with %v per direction took %v", delay, elapsed)
	if elapsed < 2*delay {
		t.Errorf("round trip took %v, want at least %v (delay in each direction)", elapsed, 2*delay)
	}
	if elapsed > 2*delay+time.Second {
		t.Errorf("round trip took %v, want about %v", elapsed, 2*delay)
	}

	p.SetDelay(0)
	start = time.Now()
	if _, err := roundTrip(c, []byte("fast"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed >= delay {
		t.Errorf("round trip after SetDelay(0) took %v, want less than %v", elapsed, delay)
	}
}

func TestTargetDownResetsClient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := l.Addr().String()
	l.Close() // nothing listens on target now

	p := startProxy(t, target)
	// The reset may arrive before the client's connect returns, so an
	// error of either the dial or the first read is a pass.
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil || os.IsTimeout(err) {
		t.Errorf("connection through the proxy to a target that is down returned %v, want a closed connection", err)
	}
	if !waitFor(5*time.Second, func() bool { return p.Accepted() == 1 }) {
		t.Errorf("Accepted() = %d, want 1 although forwarding failed", p.Accepted())
	}
}

func TestCloseEndsEverything(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, echo.listener.Addr().String())
	c := dial(t, p)
	if _, err := roundTrip(c, []byte("hi"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole(true) // Close must not wait for the black hole to end.

	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5 s while black-holed")
	}

	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("read after Close returned %v, want a closed connection", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Errorf("dial %s after Close succeeded, want connection refused", p.Addr())
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

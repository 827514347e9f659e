// Package faultproxy is a TCP proxy for tests that injects network faults
// between a client and a server: it resets every connection, stops
// forwarding bytes as a black hole would, or delays them.
//
// Each accepted connection is paired with a new connection to the target.
// Every direction of a pair runs two goroutines: a reader that stamps each
// chunk with the time it was received, and a writer that sends the chunk
// once its delay has passed and the proxy is not black-holed. A half-close
// (EOF) is forwarded in order with the data, as a FIN would be.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// chunkSize is the largest read of one direction, and queueChunks the
// number of chunks a direction holds before its reader stops reading, so
// a direction holds at most 2 MiB besides the kernel's socket buffers.
const (
	chunkSize   = 32 << 10
	queueChunks = 64
)

// Proxy forwards TCP connections from its listener to a target address.
// Its methods are safe for concurrent use.
type Proxy struct {
	listener net.Listener
	target   string
	accepted atomic.Int64
	// wg counts the accept loop and every goroutine of every pair.
	wg sync.WaitGroup

	mu sync.Mutex // guards the fields below
	// pairs are the open connection pairs.
	pairs map[*pair]struct{}
	// gate is a closed channel while bytes flow. While the proxy is
	// black-holed it is a new open channel, which blocks the writers.
	gate   chan struct{}
	delay  time.Duration
	closed bool
}

// Start listens on listenAddr (such as "127.0.0.1:0") and forwards every
// accepted connection to targetAddr.
func Start(listenAddr, targetAddr string) (*Proxy, error) {
	l, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", listenAddr, err)
	}
	p := &Proxy{
		listener: l,
		target:   targetAddr,
		pairs:    make(map[*pair]struct{}),
		gate:     make(chan struct{}),
	}
	close(p.gate)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() string { return p.listener.Addr().String() }

// Port returns the TCP port the proxy listens on.
func (p *Proxy) Port() int {
	_, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	return n
}

// Accepted returns how many client connections the proxy has accepted
// since it started, including those it could not forward.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Open returns how many connection pairs are open now.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// Cut resets every open connection on both sides, as a crashed router or
// a rebooted peer would, and returns how many pairs it reset. Bytes the
// proxy holds for them are dropped. New connections are accepted as
// before.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.pairs))
	for pr := range p.pairs {
		pairs = append(pairs, pr)
	}
	p.mu.Unlock()

	for _, pr := range pairs {
		pr.reset()
	}
	return len(pairs)
}

// Blackhole stops (on) or resumes (off) forwarding in both directions.
// While on, no connection is closed and new connections are accepted and
// dialed to the target, but no byte and no half-close reaches the other
// side. The proxy keeps reading until each direction holds 2 MiB, and then
// the kernel's socket buffers fill. Turning it off delivers every held
// byte in order, as TCP does after a transient outage, so a connection
// that its endpoints have not closed meanwhile continues intact.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		if on {
			p.gate = make(chan struct{})
		}
	default:
		if !on {
			close(p.gate)
		}
	}
}

// SetDelay delays every chunk by d in each direction, so a request and its
// reply take 2*d longer. The delay applies to chunks received from now on,
// and chunks keep their order. Zero turns the delay off.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = max(d, 0)
	p.mu.Unlock()
}

// Close stops listening, resets every open connection and waits until
// every goroutine of the proxy has ended.
func (p *Proxy) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	if already {
		return nil
	}

	err := p.listener.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.listener.Accept()
		if err != nil {
			// The listener is closed. Other accept errors on a TCP
			// listener are rare enough that a test proxy stops too.
			return
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.connect(c.(*net.TCPConn))
	}
}

// connect dials the target for client and starts forwarding. A client
// whose target cannot be reached is reset.
func (p *Proxy) connect(client *net.TCPConn) {
	defer p.wg.Done()
	c, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		resetConn(client)
		return
	}
	server := c.(*net.TCPConn)

	pr := &pair{proxy: p, client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		resetConn(client)
		resetConn(server)
		return
	}
	p.pairs[pr] = struct{}{}
	p.mu.Unlock()

	pr.halvesOpen.Store(2)
	pr.forward(client, server)
	pr.forward(server, client)
}

// currentGate returns the channel that is closed while bytes may flow.
func (p *Proxy) currentGate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gate
}

func (p *Proxy) currentDelay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

func (p *Proxy) remove(pr *pair) {
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// pair is one client connection and its connection to the target.
type pair struct {
	proxy          *Proxy
	client, server *net.TCPConn
	// done is closed when the pair ends, which stops its goroutines.
	done      chan struct{}
	resetOnce sync.Once
	// halvesOpen counts the directions that have not forwarded their EOF.
	// The pair is closed and removed when it reaches zero.
	halvesOpen atomic.Int32
}

// chunk is data read from one side, or the read error (err set) that ends
// the direction.
type chunk struct {
	data []byte
	err  error
	due  time.Time
}

// forward starts copying from src to dst.
func (pr *pair) forward(src, dst *net.TCPConn) {
	queue := make(chan chunk, queueChunks)
	pr.proxy.wg.Add(2)
	go pr.read(src, queue)
	go pr.write(dst, queue)
}

func (pr *pair) read(src *net.TCPConn, queue chan<- chunk) {
	defer pr.proxy.wg.Done()
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		due := time.Now().Add(pr.proxy.currentDelay())
		if n > 0 {
			select {
			case queue <- chunk{data: buf[:n], due: due}:
			case <-pr.done:
				return
			}
		}
		if err != nil {
			select {
			case queue <- chunk{err: err, due: due}:
			case <-pr.done:
			}
			return
		}
	}
}

func (pr *pair) write(dst *net.TCPConn, queue <-chan chunk) {
	defer pr.proxy.wg.Done()
	for {
		var c chunk
		select {
		case c = <-queue:
		case <-pr.done:
			return
		}
		if !pr.waitUntilDeliverable(c.due) {
			return
		}

		if c.err != nil {
			if !errors.Is(c.err, io.EOF) {
				// The source was reset or failed: reset the other side
				// too, as a router forwarding the RST would.
				pr.reset()
				return
			}
			dst.CloseWrite()
			pr.halfDone()
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			pr.reset()
			return
		}
	}
}

// waitUntilDeliverable blocks until due has passed and the proxy is not
// black-holed. It returns false when the pair was reset meanwhile.
func (pr *pair) waitUntilDeliverable(due time.Time) bool {
	if wait := time.Until(due); wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-pr.done:
			timer.Stop()
			return false
		}
	}
	for {
		gate := pr.proxy.currentGate()
		select {
		case <-gate:
			return true
		case <-pr.done:
			return false
		}
	}
}

// halfDone records that one direction forwarded its EOF, and closes the
// pair once both have.
func (pr *pair) halfDone() {
	if pr.halvesOpen.Add(-1) == 0 {
		pr.closeGracefully()
	}
}

// reset closes both connections with an RST (SO_LINGER 0) and stops every
// goroutine of the pair.
func (pr *pair) reset() {
	pr.resetOnce.Do(func() {
		close(pr.done)
		resetConn(pr.client)
		resetConn(pr.server)
		pr.proxy.remove(pr)
	})
}

// closeGracefully closes a pair whose directions both ended with EOF.
func (pr *pair) closeGracefully() {
	pr.resetOnce.Do(func() {
		close(pr.done)
		pr.client.Close()
		pr.server.Close()
		pr.proxy.remove(pr)
	})
}

func resetConn(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

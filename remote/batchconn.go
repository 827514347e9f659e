package remote

import (
	"net"
	"sync"
)

// batchLimit bounds the bytes a batchConn holds that the socket has not
// taken yet. A writer beyond it waits, as it would on a full socket buffer.
const batchLimit = 1 << 20

// directWrite is the size from which a write that finds the connection
// idle goes straight to the socket: copying it into the queue would cost
// more than merging it saves.
const directWrite = 16 << 10

// batchConn merges the writes that arrive while an earlier write is in the
// socket into one system call. x/crypto/ssh flushes every SSH packet with
// its own write. A burst of small SFTP requests, such as a new file's open
// and stat or the reads of many readers, would otherwise cost one system
// call per packet on the client and one read per packet on the server. Once
// batching starts, Write only queues the bytes; a flusher goroutine writes
// what has queued, and a socket error is returned by the next Write. Until
// then, during the SSH handshake, writes go straight to the socket, so the
// handshake's deadlines apply to them.
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	drained  sync.Cond // signalled when the flusher takes the queue
	batching bool
	flushing bool // the flusher is writing or has been woken
	wake     chan struct{}
	queue    []byte // bytes waiting for the flusher
	spare    []byte // the flusher's previous buffer, reused for the queue
	err      error  // the first write error; every later Write returns it
	closed   bool
}

func newBatchConn(conn net.Conn) *batchConn {
	c := &batchConn{Conn: conn}
	c.drained.L = &c.mu
	return c
}

// startBatching makes later writes queue for the flusher, which it starts.
func (c *batchConn) startBatching() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batching || c.closed {
		return
	}
	c.batching = true
	c.wake = make(chan struct{}, 1)
	go c.flusher()
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if !c.batching {
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	for c.err == nil && len(c.queue) >= batchLimit {
		c.drained.Wait()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if len(p) >= directWrite && !c.flushing {
		return c.writeDirect(p)
	}
	c.queue = append(c.queue, p...)
	if !c.flushing {
		c.flushing = true
		c.wake <- struct{}{}
	}
	c.mu.Unlock()
	return len(p), nil
}

// writeDirect writes p to the socket on the caller's goroutine; c.mu is
// held on entry and released. Writes that arrive meanwhile queue behind p
// and are handed to the flusher afterwards.
func (c *batchConn) writeDirect(p []byte) (int, error) {
	c.flushing = true
	c.mu.Unlock()
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.err == nil {
		c.err = err
	}
	if len(c.queue) > 0 && c.err == nil {
		c.wake <- struct{}{}
	} else {
		c.flushing = false
		c.drained.Broadcast()
		if c.closed {
			close(c.wake) // Close left it open for this write
		}
	}
	return n, err
}

// flusher writes the queue each time a writer wakes it, until the
// connection fails or closes.
func (c *batchConn) flusher() {
	for range c.wake {
		if !c.flush() {
			return
		}
	}
}

// flush writes the queue until it is empty and reports whether the
// connection is still usable.
func (c *batchConn) flush() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 && c.err == nil {
		out := c.queue
		c.queue = c.spare[:0]
		c.drained.Broadcast()
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		c.spare = out[:0]
		if err != nil && c.err == nil {
			c.err = err
		}
	}
	c.flushing = false
	c.queue = c.queue[:0]
	c.drained.Broadcast()
	return c.err == nil
}

func (c *batchConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.err == nil {
			c.err = net.ErrClosed
		}
		c.drained.Broadcast()
		if c.wake != nil && !c.flushing {
			close(c.wake)
		}
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

package remote

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestBatchConnKeepsOrder writes records of mixed sizes, some large
// enough to go straight to the socket. One writer writes at a time, as the
// SSH transport does under its lock. The peer must read every record once
// and in order.
func TestBatchConnKeepsOrder(t *testing.T) {
	client, server := tcpPair(t)
	bc := newBatchConn(client)
	bc.startBatching()

	const writers, records = 8, 500
	var lock sync.Mutex // the SSH transport's write lock
	var want bytes.Buffer
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < records; i++ {
				size := 1 + i%300
				if i%7 == 0 {
					size = directWrite + i*13
				}
				rec := bytes.Repeat([]byte{byte(w)}, size)
				lock.Lock()
				want.Write(rec)
				if _, err := bc.Write(rec); err != nil {
					lock.Unlock()
					t.Error(err)
					return
				}
				lock.Unlock()
			}
		}()
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	wg.Wait()
	// Close only after the queue drained: Close drops what is queued.
	deadline := time.Now().Add(10 * time.Second)
	for {
		bc.mu.Lock()
		idle := !bc.flushing && len(bc.queue) == 0
		bc.mu.Unlock()
		if idle || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	bc.Close()
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("peer read %d bytes that differ from the %d written", len(b), want.Len())
	}
}

// TestBatchConnMergesWrites checks that writes queued while the socket is
// busy go out in fewer system calls than there were writes.
func TestBatchConnMergesWrites(t *testing.T) {
	client, server := tcpPair(t)
	cc := &countingConn{Conn: client}
	bc := newBatchConn(cc)
	bc.startBatching()
	go io.Copy(io.Discard, server)

	const n = 2000
	for i := 0; i < n; i++ {
		if _, err := bc.Write(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
	}
	for {
		bc.mu.Lock()
		idle := !bc.flushing
		bc.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cc.mu.Lock()
	writes := cc.writes
	cc.mu.Unlock()
	if writes >= n {
		t.Fatalf("%d writes reached the socket for %d queued", writes, n)
	}
	t.Logf("%d writes reached the socket for %d queued", writes, n)
}

// TestBatchConnDirectBeforeStart checks that writes before startBatching
// reach the socket before Write returns, so handshake deadlines apply.
func TestBatchConnDirectBeforeStart(t *testing.T) {
	client, server := tcpPair(t)
	cc := &countingConn{Conn: client}
	bc := newBatchConn(cc)
	if _, err := bc.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	cc.mu.Lock()
	writes := cc.writes
	cc.mu.Unlock()
	if writes != 1 {
		t.Fatalf("%d socket writes before Write returned, want 1", writes)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("peer read %q, %v", buf, err)
	}
}

// TestBatchConnReportsFailure checks that a write after the socket failed
// returns an error instead of queueing forever.
func TestBatchConnReportsFailure(t *testing.T) {
	client, server := tcpPair(t)
	bc := newBatchConn(client)
	bc.startBatching()
	server.Close()
	client.(*net.TCPConn).CloseWrite()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := bc.Write(make([]byte, 1024)); err != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("writes kept succeeding on a closed socket")
}

// TestBatchConnCloseWakesWriters checks that a writer waiting for room in
// a full queue returns once the connection is closed.
func TestBatchConnCloseWakesWriters(t *testing.T) {
	client, _ := tcpPair(t)
	bc := newBatchConn(client)
	bc.startBatching()
	// The peer never reads, so the socket buffer fills and then the queue.
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := bc.Write(make([]byte, 64<<10)); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	bc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Logf("writer returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writer still blocked after Close")
	}
}

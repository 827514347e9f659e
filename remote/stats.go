package remote

import (
	"context"
	"sync/atomic"
	"time"
)

// counters are the Client's running totals for status reports.
type counters struct {
	bytesRead    atomic.Uint64
	bytesWritten atomic.Uint64
	reconnects   atomic.Uint64
}

// ClientStats is a snapshot of a Client's state.
type ClientStats struct {
	Target string
	// Connected counts the pool's connections that are up, of Conns.
	Connected, Conns int
	Reconnects       uint64
	BytesRead        uint64
	BytesWritten     uint64
	// LastError is the error of the latest failed redial, or "".
	LastError string
}

// Stats returns a snapshot of the pool's state and totals.
func (c *Client) Stats() ClientStats {
	st := ClientStats{
		Target:       c.dialer.Target(),
		Conns:        len(c.slots),
		Reconnects:   c.counters.reconnects.Load(),
		BytesRead:    c.counters.bytesRead.Load(),
		BytesWritten: c.counters.bytesWritten.Load(),
	}
	for _, s := range c.slots {
		cn, _, _, lastErr := s.current()
		if cn != nil {
			st.Connected++
		} else if lastErr != nil {
			st.LastError = lastErr.Error()
		}
	}
	return st
}

// Ping measures one round trip to the server over the first connection
// with an SSH keepalive request.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	deadline := c.deadline()
	cn, err := c.acquire(ctx, 0, deadline)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = runUntil(ctx, deadline, func() error {
		_, _, err := cn.ssh.SendRequest("keepalive@openssh.com", true, nil)
		return err
	})
	return time.Since(start), err
}

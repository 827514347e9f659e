package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// handshakeTimeout bounds the SSH handshake and authentication of a new
// connection, so idle or stalled clients do not hold a goroutine forever.
const handshakeTimeout = 30 * time.Second

// fingerprintExtension is the ssh.Permissions extension that carries the
// SHA256 fingerprint of the key a client authenticated with.
const fingerprintExtension = "pubkey-fp"

// server accepts SSH connections and serves SFTP sessions for one root.
type server struct {
	// Immutable after newServer.
	root   *os.Root
	config *ssh.ServerConfig
	names  *idNames
	log    *slog.Logger

	// wg counts the connection goroutines.
	wg sync.WaitGroup

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // guarded by mu; open connections
	closing bool                  // guarded by mu; set once shutdown starts
}

func newServer(root *os.Root, keys *serverKeys, log *slog.Logger) *server {
	s := &server{
		root:  root,
		names: newIDNames(),
		log:   log,
		conns: make(map[net.Conn]struct{}),
	}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			fp := fingerprint(key)
			if _, ok := keys.authorized[string(key.Marshal())]; !ok {
				// Clients offer each of their keys in turn, so a rejected key
				// is routine; a failed login is logged once in handleConn.
				log.Debug("public key rejected", "remote", meta.RemoteAddr().String(), "user", meta.User(), "key", fp)
				return nil, fmt.Errorf("public key %s is not authorized", fp)
			}
			return &ssh.Permissions{Extensions: map[string]string{fingerprintExtension: fp}}, nil
		},
		ServerVersion: "SSH-2.0-gosshfs_serve",
	}
	s.config.AddHostKey(keys.host)
	return s
}

// serve accepts connections until ctx is cancelled, which returns nil, or
// until the listener fails. Either way it closes every connection and
// waits for their goroutines.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.closeConns()
	})
	defer func() {
		stop()
		s.closeConns()
		s.wg.Wait()
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("serve: accept on %s: %w", ln.Addr(), err)
			}
			// Errors such as EMFILE pass once connections close, so retry
			// with a growing delay of at most one second.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "addr", ln.Addr().String(), "err", err, "delay", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0

		if !s.track(conn) {
			conn.Close()
			continue
		}
		s.wg.Go(func() {
			defer s.untrack(conn)
			s.handleConn(conn)
		})
	}
}

// track records conn so shutdown can close it, and reports false when
// shutdown has already started.
func (s *server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *server) untrack(conn net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, conn)
}

// closeConns closes every open connection and makes track reject new ones.
func (s *server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for conn := range s.conns {
		conn.Close()
	}
}

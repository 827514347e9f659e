package remote

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestKeepaliveClosesDeadConnection(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	o.ServerAliveInterval = 50 * time.Millisecond
	o.ServerAliveCountMax = 3
	client, err := dial(t, o)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return server.keepalives.Load() >= 2 }, "two answered keepalives")

	server.frozen.Store(true)
	closed := make(chan struct{})
	go func() {
		client.Wait()
		close(closed)
	}()

	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the client is still open 5s after the server stopped replying")
	}
	if !strings.Contains(c.logs.String(), "server not responding") {
		t.Errorf("no warning in the log:\n%s", c.logs)
	}
	if _, _, err := client.SendRequest("test@gosshfs", true, nil); err == nil {
		t.Error("a request on the closed client succeeded")
	}
}

func TestKeepaliveKeepsLiveConnection(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	o.ServerAliveInterval = 20 * time.Millisecond
	o.ServerAliveCountMax = 1
	client, err := dial(t, o)
	if err != nil {
		t.Fatal(err)
	}

	waitFor(t, func() bool { return server.keepalives.Load() >= 5 }, "five answered keepalives")
	if _, _, err := client.SendRequest("test@gosshfs", true, nil); err != nil {
		t.Errorf("request on a live connection: %v", err)
	}
	if strings.Contains(c.logs.String(), "server not responding") {
		t.Errorf("a live server was reported dead:\n%s", c.logs)
	}
}

func TestKeepaliveStopsWithClient(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	o.ServerAliveInterval = 10 * time.Millisecond
	client, err := dial(t, o)
	if err != nil {
		t.Fatal(err)
	}

	client.Close()
	time.Sleep(50 * time.Millisecond)
	sent := server.keepalives.Load()
	time.Sleep(100 * time.Millisecond)
	if now := server.keepalives.Load(); now != sent {
		t.Errorf("%d keepalives arrived after Close", now-sent)
	}
}

func waitFor(t *testing.T, condition func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

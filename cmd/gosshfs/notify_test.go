package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listenNotify creates a unix datagram socket at address and returns it.
func listenNotify(t *testing.T, address string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: address, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", address, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// receiveNotify returns the next datagram on conn.
func receiveNotify(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("receive a notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifierSendsReadyAndStopping(t *testing.T) {
	dir, err := os.MkdirTemp("", "notify")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	address := filepath.Join(dir, "notify.sock")
	conn := listenNotify(t, address)

	t.Setenv(notifySocketEnv, address)
	n, err := notifierFromEnv()
	if err != nil || n == nil {
		t.Fatalf("notifierFromEnv = %v, %v; want a notifier", n, err)
	}
	if _, set := os.LookupEnv(notifySocketEnv); set {
		t.Errorf("%s is still set after notifierFromEnv", notifySocketEnv)
	}

	if err := n.ready("mounted h:/ on /mnt"); err != nil {
		t.Fatalf("ready: %v", err)
	}
	want := "READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()) + "\nSTATUS=mounted h:/ on /mnt\n"
	if got := receiveNotify(t, conn); got != want {
		t.Errorf("ready sent %q, want %q", got, want)
	}

	if err := n.stopping("unmounting /mnt"); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	if got := receiveNotify(t, conn); got != "STOPPING=1\nSTATUS=unmounting /mnt\n" {
		t.Errorf("stopping sent %q", got)
	}
}

func TestNotifierAbstractSocket(t *testing.T) {
	name := "@gosshfs-notify-test-" + strconv.Itoa(os.Getpid())
	conn := listenNotify(t, name)
	n, err := newNotifier(name)
	if err != nil {
		t.Fatalf("newNotifier(%q): %v", name, err)
	}
	if err := n.ready("ok"); err != nil {
		t.Fatalf("ready on abstract socket %s: %v", name, err)
	}
	if got := receiveNotify(t, conn); !strings.HasPrefix(got, "READY=1\n") {
		t.Errorf("abstract socket received %q, want READY=1 first", got)
	}
}

func TestNotifierUnset(t *testing.T) {
	t.Setenv(notifySocketEnv, "")
	n, err := notifierFromEnv()
	if n != nil || err != nil {
		t.Fatalf("notifierFromEnv with an empty %s = %v, %v; want nil, nil", notifySocketEnv, n, err)
	}
	// A nil notifier is valid and sends nothing.
	if err := n.ready("x"); err != nil {
		t.Errorf("nil notifier ready: %v", err)
	}
}

func TestNotifierRejectsUnsupportedAddress(t *testing.T) {
	for _, address := range []string{"vsock:2:1234", "relative/path"} {
		if _, err := newNotifier(address); err == nil {
			t.Errorf("newNotifier(%q) succeeded, want an error", address)
		}
	}
}

func TestNotifierMissingSocket(t *testing.T) {
	n, err := newNotifier(filepath.Join(t.TempDir(), "missing.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.ready("x"); err == nil {
		t.Error("ready to a missing socket succeeded, want an error")
	}
}

package control

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHandler records refresh requests and returns a fixed status.
type fakeHandler struct {
	mu        sync.Mutex
	refreshed []string
}

func (h *fakeHandler) Status(ctx context.Context) (*Status, error) {
	return &Status{PID: 42, MountPoint: "/mnt/data", Source: "alice@example.org:/srv", Connected: 2, Connections: 2,
		BytesRead: 1000, CacheHits: 3, CacheNegativeHits: 1, CacheMisses: 4}, nil
}

func (h *fakeHandler) Refresh(ctx context.Context, path string) (*RefreshResult, error) {
	if strings.Contains(path, "..") {
		return nil, errors.New("invalid path")
	}
	h.mu.Lock()
	h.refreshed = append(h.refreshed, path)
	h.mu.Unlock()
	return &RefreshResult{Path: path, RemotePath: "/srv/" + path}, nil
}

// shortTempDir returns a temporary directory with a path short enough for
// a unix socket name (108 bytes on Linux), which t.TempDir may exceed.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestServerStatusAndRefresh(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), "gosshfs")
	handler := &fakeHandler{}
	server, err := Listen(dir, 1234, handler, nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer server.Close()

	if got, want := server.Path(), filepath.Join(dir, "1234.sock"); got != want {
		t.Errorf("socket path = %q, want %q", got, want)
	}
	dirInfo, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mode := dirInfo.Mode().Perm(); mode != 0o700 {
		t.Errorf("socket directory mode = %o, want 700", mode)
	}
	sockInfo, err := os.Stat(server.Path())
	if err != nil {
		t.Fatal(err)
	}
	if mode := sockInfo.Mode().Perm(); mode != 0o600 {
		t.Errorf("socket mode = %o, want 600", mode)
	}

	ctx := testContext(t)
	status, err := QueryStatus(ctx, server.Path())
	if err != nil {
		t.Fatalf("QueryStatus: %v", err)
	}
	if status.MountPoint != "/mnt/data" || status.Connected != 2 || status.BytesRead != 1000 {
		t.Errorf("QueryStatus returned %+v", status)
	}
	ratio, ok := status.CacheHitRatio()
	if !ok || ratio != 0.5 {
		t.Errorf("CacheHitRatio = %v, %v; want 0.5, true", ratio, ok)
	}

	result, err := Refresh(ctx, server.Path(), "docs/a.txt")
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if result.Path != "docs/a.txt" || result.RemotePath != "/srv/docs/a.txt" {
		t.Errorf("Refresh returned %+v", result)
	}
	if len(handler.refreshed) != 1 || handler.refreshed[0] != "docs/a.txt" {
		t.Errorf("handler saw refreshes %q, want [docs/a.txt]", handler.refreshed)
	}

	_, err = Refresh(ctx, server.Path(), "../etc")
	if err == nil || err.Error() != "invalid path" {
		t.Errorf("Refresh of a rejected path returned %v, want the handler's error", err)
	}
}

func TestServerRejectsInvalidRequests(t *testing.T) {
	server, err := Listen(shortTempDir(t), 1, &fakeHandler{}, nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer server.Close()
	ctx := testContext(t)

	_, err = Send(ctx, server.Path(), Request{Command: "reboot"})
	if err == nil || !strings.Contains(err.Error(), `unknown command "reboot"`) {
		t.Errorf("unknown command: got %v", err)
	}

	conn, err := net.Dial("unix", server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("not json\n")); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 4096)
	n, _ := conn.Read(reply)
	if !strings.Contains(string(reply[:n]), `"error":"invalid request`) {
		t.Errorf("reply to a malformed request = %q, want an invalid request error", reply[:n])
	}
}

func TestServerCloseRemovesSocket(t *testing.T) {
	server, err := Listen(shortTempDir(t), 7, &fakeHandler{}, nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	if err := server.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Stat(server.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still exists after Close: stat returned %v", err)
	}
}

func TestListRemovesStaleSockets(t *testing.T) {
	dir := shortTempDir(t)
	live, err := Listen(dir, os.Getpid(), &fakeHandler{}, nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer live.Close()

	deadPID := exitedProcessID(t)
	stale := SocketPath(dir, deadPID)
	listener, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	listener.SetUnlinkOnClose(false)
	listener.Close()

	// Neither a plain file nor a socket with another name is a daemon.
	if err := os.WriteFile(filepath.Join(dir, "99.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	daemons, err := List([]string{filepath.Join(dir, "missing"), dir})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(daemons) != 1 || daemons[0].PID != os.Getpid() || daemons[0].Socket != live.Path() {
		t.Errorf("List = %+v, want only the live socket %s", daemons, live.Path())
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale socket %s of exited process %d was not removed: %v", stale, deadPID, err)
	}
}

// exitedProcessID starts and reaps a short-lived process and returns its
// process id, which no process uses right afterwards.
func exitedProcessID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestPrepareDirFixesMode(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), "gosshfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := prepareDir(dir); err != nil {
		t.Fatalf("prepareDir: %v", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o700 {
		t.Errorf("mode after prepareDir = %o, want 700", mode)
	}
}

func TestPrepareDirRejectsOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a directory owned by another user")
	}
	dir := filepath.Join(shortTempDir(t), "gosshfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := prepareDir(dir)
	if err == nil || !strings.Contains(err.Error(), "belongs to user id 65534") {
		t.Errorf("prepareDir on a directory of user 65534 returned %v, want an ownership error", err)
	}
}

func TestSocketDirs(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	dirs := SocketDirs()
	if len(dirs) != 2 || dirs[0] != "/run/user/1000/gosshfs" {
		t.Errorf("SocketDirs with XDG_RUNTIME_DIR set = %q, want /run/user/1000/gosshfs first, then the fallback", dirs)
	}

	t.Setenv("XDG_RUNTIME_DIR", "")
	dirs = SocketDirs()
	want := filepath.Join(os.TempDir(), "gosshfs-"+strconv.Itoa(os.Geteuid()))
	if os.Geteuid() == 0 {
		want = "/run/gosshfs"
	}
	if len(dirs) != 1 || dirs[0] != want {
		t.Errorf("SocketDirs without XDG_RUNTIME_DIR = %q, want [%s]", dirs, want)
	}
}

func TestSocketPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{"123.sock", 123, true},
		{"0.sock", 0, false},
		{"-5.sock", 0, false},
		{"abc.sock", 0, false},
		{"123", 0, false},
		{"123.sock.tmp", 0, false},
	}
	for _, tt := range tests {
		pid, ok := socketPID(tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("socketPID(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

func TestProcessExistsZombie(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !processExists(cmd.Process.Pid) {
		t.Errorf("processExists(%d) = false for a running process", cmd.Process.Pid)
	}
	cmd.Process.Kill()
	// Until Wait reaps it, the killed child is a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for processExists(cmd.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if processExists(cmd.Process.Pid) {
		t.Errorf("processExists(%d) = true for a killed, unreaped process", cmd.Process.Pid)
	}
	cmd.Wait()
}

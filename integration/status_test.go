package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mountStatus is the part of one gosshfs status --json element that the
// tests check.
type mountStatus struct {
	PID              int     `json:"pid"`
	Socket           string  `json:"socket"`
	Error            string  `json:"error"`
	MountPoint       string  `json:"mount_point"`
	Source           string  `json:"source"`
	Connected        int     `json:"connected"`
	Connections      int     `json:"connections"`
	UptimeSeconds    float64 `json:"uptime_seconds"`
	Reconnects       uint64  `json:"reconnects"`
	RoundTripSeconds float64 `json:"round_trip_seconds"`
	PingError        string  `json:"ping_error"`
	BytesRead        uint64  `json:"bytes_read"`
	BytesWritten     uint64  `json:"bytes_written"`
	CacheHits        uint64  `json:"cache_hits"`
	CacheMisses      uint64  `json:"cache_misses"`
}

// runGosshfsEnv runs the binary with args and extra environment variables
// and returns its standard output and standard error.
func runGosshfsEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = errors.New("timed out after " + commandTimeout.String())
	}
	return out.String(), errOut.String(), err
}

// statusOfMount runs gosshfs status --json and returns the element for
// mnt, failing t when there is none. Other mounts, such as those of tests
// running in parallel, are ignored.
func statusOfMount(t *testing.T, mnt string) mountStatus {
	t.Helper()
	stdout, stderr, err := runGosshfsEnv(t, nil, "status", "--json")
	if err != nil {
		t.Fatalf("gosshfs status --json failed: %v\nstderr:\n%s", err, stderr)
	}
	var statuses []mountStatus
	if err := json.Unmarshal([]byte(stdout), &statuses); err != nil {
		t.Fatalf("gosshfs status --json printed invalid JSON: %v\n%s", err, stdout)
	}
	for _, s := range statuses {
		if s.MountPoint == mnt {
			return s
		}
	}
	t.Fatalf("gosshfs status --json does not list %s:\n%s", mnt, stdout)
	return mountStatus{}
}

func TestStatusShowsMount(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("gosshfs status is specific to gosshfs")
	}
	t.Parallel()
	remote := scratchDir(t, "remote")
	data := strings.Repeat("status counters\n", 4096) // 64 KiB
	writeFile(t, filepath.Join(remote, "data.txt"), data, 0o644)
	m := mountRemoteDir(t, fullServer, remote, "-o", "max_conns=2")

	// The mount may return before its second connection is up.
	before := statusOfMount(t, m.mnt)
	for deadline := time.Now().Add(10 * time.Second); before.Connected < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		before = statusOfMount(t, m.mnt)
	}
	if len(m.pids) != 1 || before.PID != m.pids[0] {
		t.Errorf("status pid = %d, want the daemon's pid %v", before.PID, m.pids)
	}
	if before.Connected != 2 || before.Connections != 2 {
		t.Errorf("status connections = %d/%d, want 2/2", before.Connected, before.Connections)
	}
	if before.Source != "root@127.0.0.1:"+remote {
		t.Errorf("status source = %q, want root@127.0.0.1:%s", before.Source, remote)
	}
	if before.PingError != "" || before.RoundTripSeconds <= 0 {
		t.Errorf("status round trip = %vs, ping error %q; want a measured round trip", before.RoundTripSeconds, before.PingError)
	}
	if before.UptimeSeconds <= 0 {
		t.Errorf("status uptime = %vs, want more than 0", before.UptimeSeconds)
	}

	if got := readFile(t, filepath.Join(m.mnt, "data.txt")); got != data {
		t.Fatalf("read %d bytes through the mount, want %d", len(got), len(data))
	}
	writeFile(t, filepath.Join(m.mnt, "written.txt"), "written through the mount\n", 0o644)

	after := statusOfMount(t, m.mnt)
	if after.BytesRead < before.BytesRead+uint64(len(data)) {
		t.Errorf("bytes read went from %d to %d after reading %d bytes", before.BytesRead, after.BytesRead, len(data))
	}
	if after.BytesWritten < before.BytesWritten+uint64(len("written through the mount\n")) {
		t.Errorf("bytes written went from %d to %d after writing a file", before.BytesWritten, after.BytesWritten)
	}
	if after.CacheHits+after.CacheMisses <= before.CacheHits+before.CacheMisses {
		t.Errorf("cache lookups did not grow: hits %d misses %d before, hits %d misses %d after",
			before.CacheHits, before.CacheMisses, after.CacheHits, after.CacheMisses)
	}

	table, stderr, err := runGosshfsEnv(t, nil, "status")
	if err != nil {
		t.Fatalf("gosshfs status failed: %v\n%s", err, stderr)
	}
	var row string
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, m.mnt+" ") {
			row = line
		}
	}
	if !strings.HasPrefix(table, "MOUNTPOINT") || !strings.Contains(row, "connected 2/2") {
		t.Errorf("gosshfs status table has no header or no connected row for %s:\n%s", m.mnt, table)
	}

	// The control socket goes away with the daemon.
	if _, err := os.Stat(after.Socket); err != nil {
		t.Fatalf("control socket %s of a running daemon: %v", after.Socket, err)
	}
	if out, err := runWithTimeout(15*time.Second, "fusermount3", "-u", m.mnt); err != nil {
		t.Fatalf("fusermount3 -u %s: %v: %s", m.mnt, err, out)
	}
	if left := waitForExit(m.pids, m.mnt, daemonExitTimeout); len(left) > 0 {
		t.Fatalf("daemon still running after fusermount3 -u: %s", describeProcesses(left))
	}
	if _, err := os.Stat(after.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket %s still exists after the daemon exited (stat: %v)", after.Socket, err)
	}
}

func TestStatusRemovesStaleSocket(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("gosshfs status is specific to gosshfs")
	}
	t.Parallel()
	runtimeDir := scratchDir(t, "xdg")
	socketDir := filepath.Join(runtimeDir, "gosshfs")
	if err := os.Mkdir(socketDir, 0o700); err != nil {
		t.Fatal(err)
	}

	// A socket left by a daemon that was killed: nothing listens on it and
	// its process is gone.
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(socketDir, strconv.Itoa(exited.Process.Pid)+".sock")
	listener, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	listener.SetUnlinkOnClose(false)
	listener.Close()

	stdout, stderr, err := runGosshfsEnv(t, []string{"XDG_RUNTIME_DIR=" + runtimeDir}, "status", "--json")
	if err != nil {
		t.Fatalf("gosshfs status --json failed: %v\n%s", err, stderr)
	}
	if strings.Contains(stdout, stale) {
		t.Errorf("gosshfs status lists the stale socket %s:\n%s", stale, stdout)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("gosshfs status left the stale socket %s (stat: %v)", stale, err)
	}
}

func TestRefreshShowsServerChange(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("gosshfs refresh is specific to gosshfs")
	}
	t.Parallel()
	remote := scratchDir(t, "remote")
	mkdir(t, filepath.Join(remote, "dir"))
	writeFile(t, filepath.Join(remote, "dir", "file.txt"), "old\n", 0o644)
	m := mountRemoteDir(t, fullServer, remote, "-o", "cache_timeout=60")
	file := filepath.Join(m.mnt, "dir", "file.txt")

	if got := readFile(t, file); got != "old\n" {
		t.Fatalf("first read = %q, want %q", got, "old\n")
	}
	if entries, err := os.ReadDir(filepath.Join(m.mnt, "dir")); err != nil || len(entries) != 1 {
		t.Fatalf("listing of dir = %v, %v; want one entry", entries, err)
	}

	// Change the file's content and size and add a file, on the server.
	const changed = "changed on the server\n"
	writeFile(t, filepath.Join(remote, "dir", "file.txt"), changed, 0o644)
	writeFile(t, filepath.Join(remote, "dir", "added.txt"), "added\n", 0o644)

	// The cache still holds the old size. Without this check the test
	// would pass against a mount that does not cache at all.
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != int64(len("old\n")) {
		t.Skipf("the mount already shows size %d before the refresh, so it does not cache with cache_timeout=60", info.Size())
	}

	stdout, stderr, err := runGosshfsEnv(t, nil, "refresh", file)
	if err != nil {
		t.Fatalf("gosshfs refresh %s failed: %v\nstderr:\n%s", file, err, stderr)
	}
	if !strings.Contains(stdout, "refreshed "+file) || !strings.Contains(stdout, filepath.Join(remote, "dir", "file.txt")) {
		t.Errorf("gosshfs refresh printed %q, want the local and remote path of %s", stdout, file)
	}
	info, err = os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != int64(len(changed)) {
		t.Errorf("size after refresh = %d, want %d", info.Size(), len(changed))
	}
	if got := readFile(t, file); got != changed {
		t.Errorf("content after refresh = %q, want %q", got, changed)
	}

	// Refreshing the mount point drops the cached listing too.
	if _, stderr, err := runGosshfsEnv(t, nil, "refresh", m.mnt); err != nil {
		t.Fatalf("gosshfs refresh %s failed: %v\n%s", m.mnt, err, stderr)
	}
	entries, err := os.ReadDir(filepath.Join(m.mnt, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("dir lists %d entries after refreshing the mount, want 2 (file.txt and added.txt)", len(entries))
	}
}

func TestRefreshOutsideMounts(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("gosshfs refresh is specific to gosshfs")
	}
	t.Parallel()
	dir := scratchDir(t, "plain")
	_, stderr, err := runGosshfsEnv(t, nil, "refresh", dir)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("gosshfs refresh of a directory that is not mounted returned %v, want exit status 2", err)
	}
	if !strings.Contains(stderr, "is not on a gosshfs mount") {
		t.Errorf("gosshfs refresh of a directory that is not mounted printed %q", stderr)
	}
}

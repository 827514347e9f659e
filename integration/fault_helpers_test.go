package integration

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosshfs/gosshfs/integration/faultproxy"
)

// Settings of every mount in the fault tests. A silent connection is
// closed after two unanswered keepalives one second apart, and an
// operation fails after faultOpTimeout without a server.
const (
	faultOpTimeout = 10 * time.Second
	// faultMargin is added to faultOpTimeout where a test checks that an
	// operation returned in time: the kernel and the daemon need a moment
	// besides the remote timeout.
	faultMargin = 5 * time.Second
	// recoveryLimit bounds how long a mount may take to work again once
	// the network is back. The redial backoff doubles from 250 ms, so a
	// fault of 20 s leaves a pause of up to 8 s before the next attempt.
	recoveryLimit = 60 * time.Second
)

// faultConns is the pool size of every fault test mount, set explicitly
// so that a test can wait until every connection is up before a fault.
const faultConns = 4

// faultOptions are the gosshfs options of every fault test mount.
var faultOptions = []string{
	"-o", "max_conns=" + strconv.Itoa(faultConns),
	"-o", "ServerAliveInterval=1",
	"-o", "ServerAliveCountMax=2",
	"-o", "timeout=" + strconv.Itoa(int(faultOpTimeout/time.Second)),
}

// proxiedMount is a gosshfs mount whose SSH connections all pass through
// a fault-injecting proxy.
type proxiedMount struct {
	*mountedFS
	proxy *faultproxy.Proxy
}

// startProxy starts a proxy to srv and closes it when t ends, after the
// mounts of t are gone.
func startProxy(t *testing.T, srv *sshServer) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", srv.port))
	if err != nil {
		t.Fatalf("start the fault proxy to port %d: %v", srv.port, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// viaProxy returns a copy of srv's connection settings that points at the
// proxy's port, with a known_hosts file that binds the server's host key
// to that port.
func viaProxy(t *testing.T, srv *sshServer, p *faultproxy.Proxy) *sshServer {
	t.Helper()
	proxied := &sshServer{
		name:       srv.name + "-via-proxy",
		dir:        srv.dir,
		port:       p.Port(),
		keys:       srv.keys,
		knownHosts: filepath.Join(scratchDir(t, "knownhosts"), "known_hosts"),
		logPath:    srv.logPath,
		extensions: srv.extensions,
	}
	hostPub, err := os.ReadFile(srv.keys.hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proxied.knownHosts, []byte(proxied.knownHostsLine(hostPub)), 0o644); err != nil {
		t.Fatal(err)
	}
	return proxied
}

// mountViaProxy mounts the server directory remote of srv through a new
// proxy with faultOptions and extra options. When t ends the proxy
// forwards again before the mount is taken down, so only a test that
// means to can unmount a black-holed mount.
func mountViaProxy(t *testing.T, srv *sshServer, remote string, extra ...string) *proxiedMount {
	t.Helper()
	requireHarness(t)
	p := startProxy(t, srv)
	options := append(append([]string(nil), faultOptions...), extra...)
	m := &proxiedMount{mountedFS: mountRemoteDir(t, viaProxy(t, srv, p), remote, options...), proxy: p}
	t.Cleanup(func() {
		p.Blackhole(false)
		p.SetDelay(0)
	})
	if len(m.pids) != 1 {
		t.Fatalf("found daemon processes %v for %s, want exactly one", m.pids, m.mnt)
	}
	return m
}

// waitForConnections waits until the proxy carries every connection of
// the pool, so that a fault hits all of them.
func (m *proxiedMount) waitForConnections(t *testing.T) {
	t.Helper()
	n := faultConns
	deadline := time.Now().Add(15 * time.Second)
	for m.proxy.Open() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy carries %d connections 15 s after mounting, want %d", m.proxy.Open(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// within runs fn, which touches the mount, and returns its error and how
// long it took. When fn does not return within limit, within fails t as a
// hang: it writes a goroutine dump of the daemon into the daemon's log,
// aborts the FUSE connection so that fn's stuck system calls return, and
// stops the test.
func (m *proxiedMount) within(t *testing.T, limit time.Duration, what string, fn func() error) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(limit):
	}

	t.Errorf("%s hung: no return after %v", what, limit)
	m.dumpDaemonStacks(t)
	forceUnmount(m.mnt)
	select {
	case err := <-done:
		t.Logf("%s returned %v after the FUSE connection was aborted", what, err)
	case <-time.After(15 * time.Second):
		t.Logf("%s still did not return 15 s after the FUSE connection was aborted", what)
	}
	t.FailNow()
	return 0, nil
}

// dumpDaemonStacks sends SIGQUIT to the daemon, which makes the Go runtime
// write every goroutine's stack to its stderr (the log file of a detached
// daemon) and exit. It logs the goroutines that run gosshfs code and keeps
// the whole log file.
func (m *proxiedMount) dumpDaemonStacks(t *testing.T) {
	t.Helper()
	for _, pid := range m.pids {
		if !isGosshfsProcess(pid, m.mnt) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
			t.Logf("kill -QUIT %d: %v", pid, err)
			continue
		}
		t.Logf("sent SIGQUIT to daemon %d for a goroutine dump", pid)
	}
	waitForExit(m.pids, m.mnt, 5*time.Second)

	data, err := os.ReadFile(m.logPath)
	if err != nil {
		t.Logf("cannot read the daemon log %s: %v", m.logPath, err)
		return
	}
	t.Logf("goroutines of the daemon in gosshfs code:\n%s", gosshfsGoroutines(string(data)))
	keepFaultLog(t, "daemon-stacks", data)
}

// gosshfsGoroutines returns the goroutine blocks of a Go stack dump that
// pass through gosshfs packages, without the runtime's own goroutines.
func gosshfsGoroutines(dump string) string {
	start := strings.Index(dump, "\ngoroutine ")
	if start < 0 {
		return "(no goroutine dump in the log)"
	}
	var kept []string
	for _, block := range strings.Split(dump[start+1:], "\n\n") {
		if strings.Contains(block, "github.com/gosshfs/gosshfs/") {
			kept = append(kept, block)
		}
	}
	return strings.Join(kept, "\n\n")
}

// keepFaultLog writes data to GOSSHFS_TEST_LOG_DIR, or else to bin/test-logs
// of the repository, under a name made of t's name and label.
func keepFaultLog(t *testing.T, label string, data []byte) {
	t.Helper()
	dir := os.Getenv("GOSSHFS_TEST_LOG_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot, "bin", "test-logs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("cannot keep the %s log: %v", label, err)
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + label + ".log"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Logf("cannot keep the %s log: %v", label, err)
		return
	}
	t.Logf("%s log kept as %s", label, path)
}

// timedCommand is the outcome of one command run on a mount.
type timedCommand struct {
	output   string
	err      error
	elapsed  time.Duration
	timedOut bool
}

// runTimed runs a command with a time limit after which it is killed.
func runTimed(limit time.Duration, name string, args ...string) timedCommand {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return timedCommand{output: string(out), err: err, elapsed: time.Since(start), timedOut: ctx.Err() != nil}
}

// probeMount checks that the mount works end to end: a new file written
// through it reaches the server, and a file written on the server reads
// back through it.
func (m *proxiedMount) probeMount(name string) error {
	want := "probe " + name + " " + time.Now().Format(time.RFC3339Nano)
	if err := os.WriteFile(filepath.Join(m.mnt, name), []byte(want), 0o644); err != nil {
		return fmt.Errorf("write %s through the mount: %w", name, err)
	}
	got, err := os.ReadFile(filepath.Join(m.remote, name))
	if err != nil {
		return fmt.Errorf("read %s on the server: %w", name, err)
	}
	if string(got) != want {
		return fmt.Errorf("the server has %q in %s, want %q", got, name, want)
	}

	serverName := name + ".server"
	if err := os.WriteFile(filepath.Join(m.remote, serverName), []byte(want), 0o644); err != nil {
		return fmt.Errorf("write %s on the server: %w", serverName, err)
	}
	got, err = os.ReadFile(filepath.Join(m.mnt, serverName))
	if err != nil {
		return fmt.Errorf("read %s through the mount: %w", serverName, err)
	}
	if string(got) != want {
		return fmt.Errorf("the mount shows %q in %s, want %q", got, serverName, want)
	}
	return nil
}

// waitUntilWorking probes the mount until a probe succeeds or limit
// passes, and returns how long that took. Each probe may take up to the
// operation timeout, and a probe that takes longer is a hang.
func (m *proxiedMount) waitUntilWorking(t *testing.T, limit time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	var lastErr error
	for attempt := 1; time.Since(start) < limit; attempt++ {
		_, lastErr = m.within(t, 2*faultOpTimeout+faultMargin, "probe of the mount", func() error {
			return m.probeMount(fmt.Sprintf("probe-%d-%d", time.Now().UnixNano(), attempt))
		})
		if lastErr == nil {
			return time.Since(start), nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(start), fmt.Errorf("the mount did not work again within %v; last probe: %w", limit, lastErr)
}

// randomFile writes size pseudo-random bytes from seed to path and
// returns their SHA-256.
func randomFile(t *testing.T, path string, size int64, seed uint64) [sha256.Size]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, rand.NewChaCha8(seedBytes(seed)), size); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// seedBytes expands seed into a ChaCha8 seed.
func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 4 {
		v := seed + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// fileSHA256 returns the SHA-256 and size of the file at path.
func fileSHA256(path string) ([sha256.Size]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return [sha256.Size]byte{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return [sha256.Size]byte(h.Sum(nil)), n, err
}

// logLineTime matches the time attribute of a log/slog text handler line.
var logLineTime = regexp.MustCompile(`^time=(\S+)`)

// logEvent is a log line and the time it records.
type logEvent struct {
	line string
	at   time.Time
}

// findLogLines returns the lines of the daemon log containing substr that
// were logged at or after since, in order.
func findLogLines(path, substr string, since time.Time) []logEvent {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var events []logEvent
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, substr) {
			continue
		}
		match := logLineTime.FindStringSubmatch(line)
		if match == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, match[1])
		if err != nil || at.Before(since) {
			continue
		}
		events = append(events, logEvent{line: line, at: at})
	}
	return events
}

// waitForLogLine polls the daemon log until a line containing substr and
// logged at or after since appears, or limit passes.
func waitForLogLine(path, substr string, since time.Time, limit time.Duration) (logEvent, error) {
	deadline := time.Now().Add(limit)
	for {
		if events := findLogLines(path, substr, since); len(events) > 0 {
			return events[0], nil
		}
		if time.Now().After(deadline) {
			return logEvent{}, fmt.Errorf("no log line containing %q within %v", substr, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// descendants returns the PIDs of every living descendant of pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// The parent PID is the second field after the command name,
		// which is in brackets and may contain spaces.
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		if parent, err := strconv.Atoi(fields[1]); err == nil {
			children[parent] = append(children[parent], child)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, child := range children[next] {
			out = append(out, child)
			queue = append(queue, child)
		}
	}
	return out
}

// errOrNil formats err for a log line, with its errno when it has one.
func errOrNil(err error) string {
	if err == nil {
		return "success"
	}
	if errno := errnoOf(err); errno != 0 {
		return fmt.Sprintf("%v (%s)", err, unixErrnoName(errno))
	}
	return err.Error()
}

// unixErrnoName returns the symbolic name of the errnos the fault tests
// expect, or the number.
func unixErrnoName(errno syscall.Errno) string {
	names := map[syscall.Errno]string{
		syscall.EIO: "EIO", syscall.ETIMEDOUT: "ETIMEDOUT", syscall.ENOTCONN: "ENOTCONN",
		syscall.ENOENT: "ENOENT", syscall.EEXIST: "EEXIST", syscall.ENOTEMPTY: "ENOTEMPTY",
		syscall.EISDIR: "EISDIR", syscall.ENOTDIR: "ENOTDIR", syscall.EINVAL: "EINVAL",
		syscall.EACCES: "EACCES", syscall.EPERM: "EPERM", syscall.EBUSY: "EBUSY",
	}
	if name, ok := names[errno]; ok {
		return name
	}
	return "errno " + strconv.Itoa(int(errno))
}

// isTimeoutErrno reports whether err is one of the errors an operation
// may fail with while the server is unreachable.
func isTimeoutErrno(err error) bool {
	errno := errnoOf(err)
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ETIMEDOUT) ||
		errno == syscall.EIO || errno == syscall.ETIMEDOUT
}

package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Time limits of the harness. They are generous because CI machines are
// small and several tests mount at the same time.
const (
	// commandTimeout bounds one gosshfs command that mounts or fails.
	commandTimeout = 60 * time.Second
	// daemonExitTimeout is how long a daemon may take to exit once its
	// mount is gone.
	daemonExitTimeout = 10 * time.Second
)

// mountedFS is one gosshfs mount made by a test.
type mountedFS struct {
	mnt     string // local mount point
	remote  string // the served directory, read directly on the server side
	logPath string // the daemon's -o logfile
	// pids are the daemon processes serving mnt, found by their command
	// line after the mount command returned.
	pids []int
}

// mount mounts a new remote directory of the full-featured server and
// returns the mount point and the remote directory.
func mount(t *testing.T, extra ...string) (mnt, remote string) {
	t.Helper()
	m := mountServer(t, fullServer, extra...)
	return m.mnt, m.remote
}

// mountServer creates a remote directory and a mount point, runs
//
//	gosshfs -p PORT -o IdentityFile=KEY -o UserKnownHostsFile=KNOWN [extra] root@127.0.0.1:REMOTE MNT
//
// and fails t unless the command exits 0 with the mount in place. The
// mount is undone when t ends, and t fails if the daemon outlives it.
func mountServer(t *testing.T, srv *sshServer, extra ...string) *mountedFS {
	t.Helper()
	requireHarness(t)
	remote := scratchDir(t, "remote")
	return mountRemoteDir(t, srv, remote, extra...)
}

// mountRemoteDir mounts the existing server directory remote.
func mountRemoteDir(t *testing.T, srv *sshServer, remote string, extra ...string) *mountedFS {
	t.Helper()
	mnt := scratchDir(t, "mnt")
	logDir := scratchDir(t, "log")
	m := &mountedFS{mnt: mnt, remote: remote}

	args := srv.mountArgs()
	if isGosshfs() {
		m.logPath = filepath.Join(logDir, "gosshfs.log")
		args = append(args, "-o", "logfile="+m.logPath)
	}
	// GOSSHFS_TEST_MOUNT_OPTIONS adds options to every mount, such as
	// "-o sshfs_debug" to log each operation while debugging a failure.
	args = append(args, strings.Fields(os.Getenv("GOSSHFS_TEST_MOUNT_OPTIONS"))...)
	args = append(args, extra...)
	args = append(args, "root@127.0.0.1:"+remote, mnt)
	m.run(t, args)
	return m
}

// run runs gosshfs with args, which must end with m.mnt, and fails t
// unless the command exits 0 with the mount in place.
func (m *mountedFS) run(t *testing.T, args []string) {
	t.Helper()
	mnt := m.mnt
	res := runGosshfs(t, args...)

	// Register the cleanup before any check, so a half-made mount is
	// still taken down.
	t.Cleanup(func() { m.teardown(t) })
	m.pids = waitForProcesses(mnt, 2*time.Second)

	if res.err != nil {
		t.Fatalf("gosshfs %s failed: %v\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), res.err, res.stderr, res.stdout)
	}
	entry, ok := findMount(mnt)
	if !ok {
		t.Fatalf("gosshfs %s exited 0 but %s is not in /proc/self/mountinfo", strings.Join(args, " "), mnt)
	}
	if !strings.HasPrefix(entry.fsType, "fuse") {
		t.Errorf("mount type of %s is %q, want fuse.*", mnt, entry.fsType)
	}
	if len(m.pids) == 0 {
		t.Errorf("no running process has %s in its command line; the daemon should keep its arguments like sshfs does, so ps shows what it serves", mnt)
	}
}

// teardown unmounts m, waits for its daemon to exit and fails t on any
// leftover. It is safe to call after the test unmounted m itself.
func (m *mountedFS) teardown(t *testing.T) {
	t.Helper()
	if isMounted(m.mnt) {
		out, err := fusermountU(m.mnt)
		if err != nil {
			t.Errorf("fusermount3 -u %s failed at cleanup: %v: %s", m.mnt, err, out)
		}
		if isMounted(m.mnt) {
			t.Errorf("%s is still mounted after fusermount3 -u; forcing it off", m.mnt)
			forceUnmount(m.mnt)
		}
	}

	pids := union(m.pids, processesMentioning(m.mnt))
	if left := waitForExit(pids, m.mnt, daemonExitTimeout); len(left) > 0 {
		t.Errorf("gosshfs daemon still running %v after its mount %s was removed: %s", daemonExitTimeout, m.mnt, describeProcesses(left))
		killProcesses(left)
	}
	if t.Failed() && m.logPath != "" {
		m.logTail(t)
		m.keepLog(t)
	}
}

// keepLog copies the daemon's log of a failed test into the directory
// named by GOSSHFS_TEST_LOG_DIR, when set, because the scratch directory
// is removed at the end of the run.
func (m *mountedFS) keepLog(t *testing.T) {
	t.Helper()
	dir := os.Getenv("GOSSHFS_TEST_LOG_DIR")
	if dir == "" {
		return
	}
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + filepath.Base(m.mnt) + ".log"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("cannot keep the daemon log: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Logf("cannot keep the daemon log: %v", err)
		return
	}
	t.Logf("daemon log kept as %s", filepath.Join(dir, name))
}

// logTail writes the end of the daemon's log file into t's output.
func (m *mountedFS) logTail(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		t.Logf("daemon log %s: %v", m.logPath, err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("last lines of the daemon log %s:\n%s", m.logPath, strings.Join(lines, "\n"))
}

// commandResult is the outcome of one finished gosshfs command.
type commandResult struct {
	stdout, stderr string
	err            error // nil, *exec.ExitError or a start or timeout error
	elapsed        time.Duration
}

// runGosshfs runs the binary with args and stdin closed. Output goes to
// files, not pipes, so a daemon that inherits them cannot keep the call
// waiting after the command itself exited.
func runGosshfs(t *testing.T, args ...string) commandResult {
	t.Helper()
	outDir := scratchDir(t, "out")
	stdout, err := os.Create(filepath.Join(outDir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(outDir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	start := time.Now()
	runErr := cmd.Run()
	res := commandResult{err: runErr, elapsed: time.Since(start)}
	if ctx.Err() != nil {
		res.err = fmt.Errorf("timed out after %v (%v)", commandTimeout, runErr)
	}
	outBytes, _ := os.ReadFile(stdout.Name())
	errBytes, _ := os.ReadFile(stderr.Name())
	res.stdout, res.stderr = string(outBytes), string(errBytes)
	return res
}

// runWithTimeout runs a helper command and returns its combined output.
func runWithTimeout(limit time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v", limit)
	}
	return string(out), err
}

// fusermountU runs `fusermount3 -u path` and returns its output. It
// retries for up to 5 s while the mount is busy.
// NOTE: EBUSY right after a test closed its files was seen once under
// parallel load. The likely holder is a child that this binary started for
// another test, which has copies of the open files until its exec.
func fusermountU(path string) (string, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := runWithTimeout(15*time.Second, "fusermount3", "-u", path)
		if err == nil || !strings.Contains(out, "busy") || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	majorMinor string // field 3, "major:minor" of the mount's device
	mountPoint string
	fsType     string
	source     string
}

// readMountInfo parses /proc/self/mountinfo.
func readMountInfo() []mountEntry {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var entries []mountEntry
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		sep := -1
		for i, field := range fields {
			if field == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+3 {
			continue
		}
		entries = append(entries, mountEntry{
			majorMinor: fields[2],
			mountPoint: unescapeMountPath(fields[4]),
			fsType:     fields[sep+1],
			source:     unescapeMountPath(fields[sep+2]),
		})
	}
	return entries
}

// unescapeMountPath undoes the kernel's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// findMount returns the last (topmost) mount at path.
func findMount(path string) (mountEntry, bool) {
	var found mountEntry
	ok := false
	for _, e := range readMountInfo() {
		if e.mountPoint == path {
			found, ok = e, true
		}
	}
	return found, ok
}

// mountCount returns how many mounts are stacked at path.
func mountCount(path string) int {
	n := 0
	for _, e := range readMountInfo() {
		if e.mountPoint == path {
			n++
		}
	}
	return n
}

// isGosshfs reports whether the binary under test is gosshfs, not another
// program chosen with GOSSHFS_TEST_BINARY.
func isGosshfs() bool {
	return filepath.Base(binary) == "gosshfs"
}

func isMounted(path string) bool {
	_, ok := findMount(path)
	return ok
}

// leakedMounts returns the mount points at or below dir.
func leakedMounts(dir string) []string {
	var leaks []string
	for _, e := range readMountInfo() {
		if e.mountPoint == dir || strings.HasPrefix(e.mountPoint, dir+"/") {
			leaks = append(leaks, e.mountPoint)
		}
	}
	return leaks
}

// waitForMount polls until path is mounted or limit passes.
func waitForMount(path string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !isMounted(path) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// waitForUnmount polls until nothing is mounted at path or limit passes.
func waitForUnmount(path string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for isMounted(path) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

var fusectl struct {
	sync.Mutex
	mountedByUs bool
}

const fusectlDir = "/sys/fs/fuse/connections"

// forceUnmount aborts the FUSE connection of the mount at path, so that
// calls stuck in it return, and then detaches it lazily.
func forceUnmount(path string) {
	if entry, ok := findMount(path); ok {
		abortFuseConnection(entry.majorMinor)
	}
	runWithTimeout(15*time.Second, "fusermount3", "-uz", path)
	if isMounted(path) {
		runWithTimeout(15*time.Second, "umount", "-l", path)
	}
}

// abortFuseConnection writes to the fusectl abort file of the connection
// whose device is majorMinor. The connection directory is named after the
// kernel's dev_t of the mount, which is major<<20|minor.
func abortFuseConnection(majorMinor string) {
	major, minor, ok := strings.Cut(majorMinor, ":")
	if !ok {
		return
	}
	maj, err1 := strconv.ParseUint(major, 10, 32)
	min, err2 := strconv.ParseUint(minor, 10, 32)
	if err1 != nil || err2 != nil {
		return
	}

	fusectl.Lock()
	if !fusectlMounted() {
		if _, err := runWithTimeout(10*time.Second, "mount", "-t", "fusectl", "none", fusectlDir); err == nil {
			fusectl.mountedByUs = true
		}
	}
	fusectl.Unlock()

	abort := filepath.Join(fusectlDir, strconv.FormatUint(maj<<20|min, 10), "abort")
	os.WriteFile(abort, []byte("1"), 0o200)
}

func fusectlMounted() bool {
	for _, e := range readMountInfo() {
		if e.mountPoint == fusectlDir {
			return true
		}
	}
	return false
}

// unmountFusectlIfMounted undoes abortFuseConnection's fusectl mount.
func unmountFusectlIfMounted() {
	fusectl.Lock()
	defer fusectl.Unlock()
	if fusectl.mountedByUs {
		runWithTimeout(10*time.Second, "umount", fusectlDir)
		fusectl.mountedByUs = false
	}
}

// processesMentioning returns the live gosshfs processes whose command line
// contains s. Only processes of the binary under test count, and zombies
// do not.
func processesMentioning(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if isGosshfsProcess(pid, s) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// isGosshfsProcess reports whether pid is a live gosshfs process whose
// command line contains s. Checking the command line again guards against
// a reused PID.
func isGosshfsProcess(pid int, s string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), s) {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if filepath.Base(args[0]) != filepath.Base(binary) && !strings.HasPrefix(exe, binary) {
		return false
	}
	return processState(pid) != 'Z'
}

// processState returns the state letter of /proc/PID/stat, or 0.
func processState(pid int) byte {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name in brackets may contain spaces; the state follows
	// the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// waitForProcesses polls until a process mentioning s appears or limit
// passes, because a detaching daemon may still be starting when its parent
// has exited.
func waitForProcesses(s string, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		if pids := processesMentioning(s); len(pids) > 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForExit polls until none of pids is a gosshfs process mentioning s,
// and returns those still running after limit.
func waitForExit(pids []int, s string, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		var left []int
		for _, pid := range pids {
			if isGosshfsProcess(pid, s) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killProcesses sends SIGKILL to pids, which must be daemons this run
// started (callers find them by this run's unique paths).
func killProcesses(pids []int) {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// describeProcesses returns "PID: command line" for each pid.
func describeProcesses(pids []int) string {
	var parts []string
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		parts = append(parts, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")))
	}
	return strings.Join(parts, "; ")
}

func union(a, b []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, list := range [][]int{a, b} {
		for _, v := range list {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Ints(out)
	return out
}

package integration

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifyListener is a unix datagram socket standing in for systemd's
// NOTIFY_SOCKET.
type notifyListener struct {
	address string // as NOTIFY_SOCKET gives it, a path or @name
	conn    *net.UnixConn
}

func listenForNotify(t *testing.T, address string) *notifyListener {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: address, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", address, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifyListener{address: address, conn: conn}
}

// next returns the variables of the next message, failing t when none
// arrives within limit.
func (l *notifyListener) next(t *testing.T, limit time.Duration) map[string]string {
	t.Helper()
	l.conn.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 4096)
	n, err := l.conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification on %s within %v: %v", l.address, limit, err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n") {
		name, value, _ := strings.Cut(line, "=")
		vars[name] = value
	}
	return vars
}

// TestNotifyForeground runs gosshfs -f as a Type=notify unit does and
// checks that READY=1 comes once the mount works and STOPPING=1 once it is
// unmounted.
func TestNotifyForeground(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("readiness notification is specific to gosshfs")
	}
	t.Parallel()
	notify := listenForNotify(t, filepath.Join(scratchDir(t, "notify"), "notify.sock"))
	remote := scratchDir(t, "remote")
	mnt := scratchDir(t, "mnt")

	args := append(fullServer.mountArgs(), "-f", "root@127.0.0.1:"+remote, mnt)
	cmd, exited := startForeground(t, []string{"NOTIFY_SOCKET=" + notify.address}, args...)

	ready := notify.next(t, commandTimeout)
	if ready["READY"] != "1" {
		t.Fatalf("first notification = %v, want READY=1", ready)
	}
	if ready["MAINPID"] != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("MAINPID = %q, want the foreground process %d", ready["MAINPID"], cmd.Process.Pid)
	}
	if !isMounted(mnt) {
		t.Errorf("READY=1 arrived before %s was mounted", mnt)
	}
	if !strings.Contains(ready["STATUS"], mnt) {
		t.Errorf("STATUS = %q, want it to name %s", ready["STATUS"], mnt)
	}

	if out, err := runWithTimeout(15*time.Second, "fusermount3", "-u", mnt); err != nil {
		t.Fatalf("fusermount3 -u %s: %v: %s", mnt, err, out)
	}
	if stopping := notify.next(t, daemonExitTimeout); stopping["STOPPING"] != "1" {
		t.Errorf("notification after unmounting = %v, want STOPPING=1", stopping)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("gosshfs -f exited with %v after fusermount3 -u, want status 0", err)
		}
	case <-time.After(daemonExitTimeout):
		t.Errorf("gosshfs -f still running %v after fusermount3 -u", daemonExitTimeout)
	}
}

// TestNotifyDetachedAbstract mounts without -f and with an abstract
// socket name: the detached daemon must report itself as MAINPID, and
// SIGTERM to it must send STOPPING=1.
func TestNotifyDetachedAbstract(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("readiness notification is specific to gosshfs")
	}
	t.Parallel()
	notify := listenForNotify(t, "@gosshfs-it-notify-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	m := &mountedFS{mnt: scratchDir(t, "mnt"), remote: scratchDir(t, "remote")}
	args := append(fullServer.mountArgs(), "root@127.0.0.1:"+m.remote, m.mnt)
	_, stderr, err := runGosshfsEnv(t, []string{"NOTIFY_SOCKET=" + notify.address}, args...)
	t.Cleanup(func() { m.teardown(t) })
	m.pids = waitForProcesses(m.mnt, 2*time.Second)
	if err != nil {
		t.Fatalf("gosshfs %v failed: %v\nstderr:\n%s", args, err, stderr)
	}

	ready := notify.next(t, 5*time.Second)
	if ready["READY"] != "1" {
		t.Fatalf("first notification = %v, want READY=1", ready)
	}
	if len(m.pids) != 1 || ready["MAINPID"] != strconv.Itoa(m.pids[0]) {
		t.Errorf("MAINPID = %q, want the daemon's pid %v", ready["MAINPID"], m.pids)
	}

	for _, pid := range m.pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	if stopping := notify.next(t, daemonExitTimeout); stopping["STOPPING"] != "1" {
		t.Errorf("notification after SIGTERM = %v, want STOPPING=1", stopping)
	}
	if !waitForUnmount(m.mnt, daemonExitTimeout) {
		t.Errorf("%s is still mounted %v after SIGTERM", m.mnt, daemonExitTimeout)
	}
}

// TestSystemdTemplateCommand runs the ExecStart line of
// contrib/systemd/gosshfs@.service, with the values systemd would put in
// for the instance and its environment file, and checks that it mounts
// and reports readiness.
func TestSystemdTemplateCommand(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("the unit file is specific to gosshfs")
	}
	t.Parallel()
	unit, err := os.ReadFile(filepath.Join(repoRoot, "contrib", "systemd", "gosshfs@.service"))
	if err != nil {
		t.Fatal(err)
	}
	var execStart string
	for _, line := range strings.Split(string(unit), "\n") {
		if value, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = value
		}
	}
	if execStart == "" {
		t.Fatalf("gosshfs@.service has no ExecStart= line")
	}

	remote := scratchDir(t, "remote")
	mnt := scratchDir(t, "mnt")
	writeFile(t, filepath.Join(remote, "hello.txt"), "hello\n", 0o644)
	options := strings.Join([]string{
		"port=" + strconv.Itoa(fullServer.port),
		"IdentityFile=" + fullServer.keys.clientKey,
		"UserKnownHostsFile=" + fullServer.knownHosts,
	}, ",")
	// systemd replaces ${NAME} by one word and %f by the unescaped instance.
	replacer := strings.NewReplacer("${REMOTE}", "root@127.0.0.1:"+remote, "${OPTIONS}", options, "%f", mnt)
	fields := strings.Fields(execStart)
	if fields[0] != "/usr/local/bin/gosshfs" {
		t.Fatalf("ExecStart runs %s, want /usr/local/bin/gosshfs, which make install replaces", fields[0])
	}
	var args []string
	for _, field := range fields[1:] {
		args = append(args, replacer.Replace(field))
	}

	notify := listenForNotify(t, filepath.Join(scratchDir(t, "notify"), "notify.sock"))
	_, exited := startForeground(t, []string{"NOTIFY_SOCKET=" + notify.address}, args...)
	if ready := notify.next(t, commandTimeout); ready["READY"] != "1" {
		t.Fatalf("first notification = %v, want READY=1", ready)
	}
	if got := readFile(t, filepath.Join(mnt, "hello.txt")); got != "hello\n" {
		t.Errorf("hello.txt through the unit's mount = %q", got)
	}

	if out, err := runWithTimeout(15*time.Second, "fusermount3", "-u", mnt); err != nil {
		t.Fatalf("fusermount3 -u %s: %v: %s", mnt, err, out)
	}
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(daemonExitTimeout):
		t.Errorf("gosshfs -f still running %v after fusermount3 -u", daemonExitTimeout)
	}
}

// TestSystemdUnitsVerify checks the unit files with systemd-analyze verify,
// after putting the built binary where make install would put gosshfs and
// giving the example units the names systemd requires.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	executable, err := filepath.Abs(binary)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(executable); err != nil {
		t.Skipf("the binary under test is missing: %v", err)
	}
	dir := t.TempDir()
	contrib := filepath.Join("..", "contrib", "systemd")
	copies := map[string]string{
		"gosshfs@.service":           "gosshfs@mnt-data.service",
		"example-mnt-data.mount":     "mnt-data.mount",
		"example-mnt-data.automount": "mnt-data.automount",
	}
	var units []string
	for source, name := range copies {
		data, err := os.ReadFile(filepath.Join(contrib, source))
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("/usr/local/bin/gosshfs"), []byte(executable))
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, path)
	}

	// --man=no: the gosshfs(1) page named in Documentation= is not
	// installed here.
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %v: %v\n%s", units, err, out)
	}
}

// startForeground starts gosshfs with args and extra environment variables
// and stops it at the end of t, and returns the process and a channel that
// receives its exit error.
func startForeground(t *testing.T, env []string, args ...string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gosshfs %v: %v", args, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	mnt := args[len(args)-1]
	for _, arg := range args {
		if strings.HasPrefix(arg, baseDir+"/mnt-") {
			mnt = arg
		}
	}
	t.Cleanup(func() {
		if isMounted(mnt) {
			runWithTimeout(15*time.Second, "fusermount3", "-u", mnt)
		}
		select {
		case <-exited:
		case <-time.After(daemonExitTimeout):
			t.Errorf("gosshfs -f still running at cleanup; killing it")
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gosshfs output:\n%s", firstLines(output.String(), 60))
		}
	})
	return cmd, exited
}

package integration

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// badInputCase is one command line that must fail cleanly.
type badInputCase struct {
	name string
	// args builds the command line; mnt is a fresh empty directory unless
	// the case replaces it.
	args func(t *testing.T, mnt string) []string
	// mnt optionally replaces the fresh mount point, for cases about it.
	mnt func(t *testing.T) string
	// mentions are strings the error line must contain, compared without
	// regard to case; the first one is the value at fault.
	mentions []string
	// maxDuration, when set, bounds how long the command may take.
	maxDuration time.Duration
}

// TestBadInput runs every kind of wrong command line and checks that
// gosshfs prints one error line naming the wrong value, exits non-zero and
// leaves neither a mount nor a process behind.
func TestBadInput(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	srv := fullServer
	remote := scratchDir(t, "remote")
	remoteFile := filepath.Join(remote, "regular-file")
	writeFile(t, remoteFile, "not a directory", 0o644)
	missingRemote := filepath.Join(remote, "no-such-dir")

	standard := func(target string, extra ...string) func(*testing.T, string) []string {
		return func(t *testing.T, mnt string) []string {
			args := append(srv.mountArgs(), extra...)
			return append(args, target, mnt)
		}
	}
	withKnownHosts := func(knownHosts string, target string) []string {
		return []string{"-p", strconv.Itoa(srv.port), "-o", "IdentityFile=" + srv.keys.clientKey,
			"-o", "UserKnownHostsFile=" + knownHosts, target}
	}

	refusedPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	silentPort := startSilentListener(t)

	emptyKnownHosts := filepath.Join(scratchDir(t, "known"), "known_hosts")
	writeFile(t, emptyKnownHosts, "", 0o644)
	changedKnownHosts := filepath.Join(scratchDir(t, "known"), "known_hosts")
	otherPub, err := os.ReadFile(srv.keys.otherHostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, changedKnownHosts, srv.knownHostsLine(otherPub), 0o644)

	target := "root@127.0.0.1:" + remote
	cases := []badInputCase{
		{
			name:     "UnknownHost",
			args:     standard("root@nohost.invalid:/"),
			mentions: []string{"nohost.invalid"},
		},
		{
			name: "RefusedPort",
			args: func(t *testing.T, mnt string) []string {
				return []string{"-p", strconv.Itoa(refusedPort), "-o", "IdentityFile=" + srv.keys.clientKey,
					"-o", "UserKnownHostsFile=" + srv.knownHosts, target, mnt}
			},
			mentions: []string{strconv.Itoa(refusedPort), "refused"},
		},
		{
			name: "ConnectTimeout",
			args: func(t *testing.T, mnt string) []string {
				return []string{"-p", strconv.Itoa(silentPort), "-o", "ConnectTimeout=2", "-o", "IdentityFile=" + srv.keys.clientKey,
					"-o", "UserKnownHostsFile=" + srv.knownHosts, target, mnt}
			},
			mentions:    []string{strconv.Itoa(silentPort), "timed out"},
			maxDuration: 20 * time.Second,
		},
		{
			name: "AuthenticationFailed",
			args: func(t *testing.T, mnt string) []string {
				return []string{"-p", strconv.Itoa(srv.port), "-o", "IdentityFile=" + srv.keys.strangerKey,
					"-o", "UserKnownHostsFile=" + srv.knownHosts, target, mnt}
			},
			mentions: []string{"root", "authentication"},
		},
		{
			name: "UnknownHostKey",
			args: func(t *testing.T, mnt string) []string {
				return append(withKnownHosts(emptyKnownHosts, target), mnt)
			},
			mentions: []string{"127.0.0.1", "host key"},
		},
		{
			name: "ChangedHostKey",
			args: func(t *testing.T, mnt string) []string {
				return append(withKnownHosts(changedKnownHosts, target), mnt)
			},
			mentions: []string{"127.0.0.1", "host key"},
		},
		{
			name:     "RemoteDirMissing",
			args:     standard("root@127.0.0.1:" + missingRemote),
			mentions: []string{missingRemote},
		},
		{
			name:     "RemotePathIsFile",
			args:     standard("root@127.0.0.1:" + remoteFile),
			mentions: []string{remoteFile},
		},
		{
			name: "MountPointMissing",
			mnt: func(t *testing.T) string {
				return filepath.Join(scratchDir(t, "parent"), "no-such-mountpoint")
			},
			args:     standard(target),
			mentions: []string{"no-such-mountpoint"},
		},
		{
			name: "MountPointIsFile",
			mnt: func(t *testing.T) string {
				path := filepath.Join(scratchDir(t, "parent"), "file-mountpoint")
				writeFile(t, path, "", 0o644)
				return path
			},
			args:     standard(target),
			mentions: []string{"file-mountpoint"},
		},
		{
			name:     "MissingColon",
			args:     standard("root@127.0.0.1"),
			mentions: []string{"root@127.0.0.1"},
		},
		{
			name:     "InvalidUID",
			args:     standard(target, "-o", "uid=abc"),
			mentions: []string{"abc", "uid"},
		},
		{
			name: "PortOutOfRange",
			args: func(t *testing.T, mnt string) []string {
				return []string{"-p", "99999", "-o", "IdentityFile=" + srv.keys.clientKey,
					"-o", "UserKnownHostsFile=" + srv.knownHosts, target, mnt}
			},
			mentions: []string{"99999"},
		},
		{
			name:     "UnknownOption",
			args:     standard(target, "-o", "frobnicate"),
			mentions: []string{"frobnicate"},
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mnt string
			if tc.mnt != nil {
				mnt = tc.mnt(t)
			} else {
				mnt = scratchDir(t, "mnt")
			}
			checkBadInput(t, tc, tc.args(t, mnt), mnt)
		})
	}

	t.Run("AlreadyMounted", func(t *testing.T) {
		t.Parallel()
		m := mountServer(t, srv)
		args := append(srv.mountArgs(), "root@127.0.0.1:"+scratchDir(t, "remote"), m.mnt)
		res := runGosshfs(t, args...)
		checkErrorLine(t, res, args, []string{m.mnt})
		if n := mountCount(m.mnt); n != 1 {
			t.Errorf("%d mounts are stacked at %s, want the first one only", n, m.mnt)
		}
		if pids := processesMentioning(m.mnt); len(union(pids, m.pids)) != len(m.pids) {
			t.Errorf("the failed second mount left processes behind: %s", describeProcesses(pids))
		}
		writeFile(t, filepath.Join(m.mnt, "still-works"), "yes", 0o644)
		if got := readFile(t, filepath.Join(m.remote, "still-works")); got != "yes" {
			t.Errorf("after the failed second mount the first mount no longer writes to the server: got %q", got)
		}
	})
}

// checkBadInput runs args and checks the error line, the exit status and
// that nothing stays mounted at mnt or running for it.
func checkBadInput(t *testing.T, tc badInputCase, args []string, mnt string) {
	t.Helper()
	res := runGosshfs(t, args...)
	checkErrorLine(t, res, args, tc.mentions)
	if tc.maxDuration > 0 && res.elapsed > tc.maxDuration {
		t.Errorf("gosshfs took %v to fail, want at most %v", res.elapsed.Round(time.Millisecond), tc.maxDuration)
	}

	if isMounted(mnt) {
		t.Errorf("%s is mounted after the failed command", mnt)
		forceUnmount(mnt)
	}
	// A detaching daemon may still be exiting when its parent reports the
	// error, so allow it a moment.
	if left := waitForExit(processesMentioning(mnt), mnt, 3*time.Second); len(left) > 0 {
		t.Errorf("gosshfs processes still running after the failed command: %s", describeProcesses(left))
		killProcesses(left)
	}
}

// checkErrorLine checks that the command failed with exactly one line on
// stderr that contains each of mentions.
func checkErrorLine(t *testing.T, res commandResult, args []string, mentions []string) {
	t.Helper()
	command := "gosshfs " + strings.Join(args, " ")
	if res.err == nil {
		t.Errorf("%s exited 0, want a non-zero exit status", command)
	} else if strings.Contains(res.err.Error(), "timed out") {
		t.Errorf("%s: %v", command, res.err)
	}

	message := strings.TrimRight(res.stderr, "\n")
	lines := strings.Split(message, "\n")
	if message == "" {
		t.Errorf("%s printed nothing on stderr, want one error line", command)
		return
	}
	if len(lines) != 1 {
		t.Errorf("%s printed %d lines on stderr, want one error line:\n%s", command, len(lines), firstLines(message, 20))
	}
	for _, want := range mentions {
		if !strings.Contains(strings.ToLower(message), strings.ToLower(want)) {
			t.Errorf("the error of %s does not mention %q:\n%s", command, want, message)
		}
	}
}

// startSilentListener listens on a free port of 127.0.0.1, accepts
// connections and never sends a byte, like a server that hangs before its
// SSH banner. It returns the port and stops when t ends.
func startSilentListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

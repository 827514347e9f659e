package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonLifecycle checks each way a mount ends: the daemon must unmount
// and exit, or exit after an outside unmount, within a few seconds.
func TestDaemonLifecycle(t *testing.T) {
	requireHarness(t)
	t.Parallel()

	t.Run("FusermountEndsDaemon", func(t *testing.T) {
		t.Parallel()
		m := mountServer(t, fullServer)
		if out, err := fusermountU(m.mnt); err != nil {
			t.Fatalf("fusermount3 -u %s: %v: %s", m.mnt, err, out)
		}
		if left := waitForExit(m.pids, m.mnt, daemonExitTimeout); len(left) > 0 {
			t.Errorf("daemon still running %v after fusermount3 -u: %s", daemonExitTimeout, describeProcesses(left))
		}
	})

	t.Run("SIGTERMUnmounts", func(t *testing.T) {
		t.Parallel()
		m := mountServer(t, fullServer)
		if len(m.pids) == 0 {
			t.Fatal("no daemon process found to signal")
		}
		for _, pid := range m.pids {
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Errorf("kill -TERM %d: %v", pid, err)
			}
		}
		if !waitForUnmount(m.mnt, daemonExitTimeout) {
			t.Errorf("%s is still mounted %v after SIGTERM to the daemon", m.mnt, daemonExitTimeout)
		}
		if left := waitForExit(m.pids, m.mnt, daemonExitTimeout); len(left) > 0 {
			t.Errorf("daemon still running %v after SIGTERM: %s", daemonExitTimeout, describeProcesses(left))
		}
	})

	t.Run("UmountSubcommand", func(t *testing.T) {
		t.Parallel()
		m := mountServer(t, fullServer)
		res := runGosshfs(t, "umount", m.mnt)
		if res.err != nil {
			t.Fatalf("gosshfs umount %s failed: %v\nstderr:\n%s", m.mnt, res.err, res.stderr)
		}
		if isMounted(m.mnt) {
			t.Errorf("%s is still mounted after gosshfs umount exited 0", m.mnt)
		}
		if left := waitForExit(m.pids, m.mnt, daemonExitTimeout); len(left) > 0 {
			t.Errorf("daemon still running %v after gosshfs umount: %s", daemonExitTimeout, describeProcesses(left))
		}

		again := runGosshfs(t, "umount", m.mnt)
		if again.err == nil {
			t.Errorf("gosshfs umount of a directory that is not mounted exited 0")
		}
		if !strings.Contains(again.stderr, m.mnt) {
			t.Errorf("gosshfs umount of a directory that is not mounted: the error does not name %s:\n%s", m.mnt, again.stderr)
		}
	})

	t.Run("Foreground", func(t *testing.T) {
		t.Parallel()
		testForeground(t)
	})
}

func testForeground(t *testing.T) {
	remote := scratchDir(t, "remote")
	mnt := scratchDir(t, "mnt")
	args := append(fullServer.mountArgs(), "-f", "root@127.0.0.1:"+remote, mnt)
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting gosshfs -f: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if isMounted(mnt) {
			t.Errorf("%s is still mounted at cleanup", mnt)
			forceUnmount(mnt)
		}
		select {
		case <-exited:
		case <-time.After(daemonExitTimeout):
			t.Errorf("gosshfs -f still running at cleanup")
			cmd.Process.Kill()
			<-exited
		}
	})

	// Poll for the mount, failing early if the process exits first.
	deadline := time.Now().Add(commandTimeout)
	for !isMounted(mnt) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("gosshfs -f exited before mounting: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gosshfs -f did not mount %s within %v\n%s", mnt, commandTimeout, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	select {
	case err := <-exited:
		exited <- err
		t.Fatalf("gosshfs -f exited while mounted: %v", err)
	default:
	}
	if err := os.WriteFile(filepath.Join(mnt, "file"), []byte("foreground"), 0o644); err != nil {
		t.Errorf("write through the foreground mount: %v", err)
	} else if got := readFile(t, filepath.Join(remote, "file")); got != "foreground" {
		t.Errorf("the server has %q after writing through the foreground mount", got)
	}

	if out, err := fusermountU(mnt); err != nil {
		t.Fatalf("fusermount3 -u %s: %v: %s", mnt, err, out)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("gosshfs -f exited with %v after fusermount3 -u, want status 0\n%s", err, stderr.String())
		}
	case <-time.After(daemonExitTimeout):
		t.Errorf("gosshfs -f still running %v after fusermount3 -u", daemonExitTimeout)
	}
}

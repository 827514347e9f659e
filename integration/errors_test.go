package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Sizes of the disk-full test: the server's file system is a 1 MiB tmpfs,
// and the writer tries to store four times that in one file.
const (
	diskFullFSSize    = 1 << 20
	diskFullWriteSize = 4 << 20
	// diskFullLimit bounds writing and closing the file. A local write of
	// 4 MiB takes well under a second, so reaching it is a hang.
	diskFullLimit = 20 * time.Second
	// releaseLimit bounds how long the server may keep the blocks of a
	// file that was closed and removed through the mount.
	releaseLimit = 5 * time.Second
)

// authFailTimeout is the -o timeout of the rejected-redial test, in
// seconds. authFailLimit is that timeout plus a 3 s margin for the kernel
// and the daemon, within which an operation must fail once the server
// rejects every login.
const (
	authFailTimeout = 5
	authFailLimit   = 8 * time.Second
)

// mountTmpfs mounts a tmpfs of size bytes on dir and unmounts it when t
// ends. Call it before mounting gosshfs on dir, so that cleanup, which runs
// in reverse order, removes the gosshfs mount first.
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	options := fmt.Sprintf("size=%d,mode=0755", size)
	if out, err := runWithTimeout(10*time.Second, "mount", "-t", "tmpfs", "-o", options, "tmpfs", dir); err != nil {
		t.Fatalf("mount -t tmpfs -o %s tmpfs %s failed: %v: %s", options, dir, err, out)
	}
	t.Cleanup(func() {
		// The server's sftp-server may still hold a file open for a moment
		// after the gosshfs daemon exited, so retry while the tmpfs is busy.
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, err := runWithTimeout(10*time.Second, "umount", dir)
			if err == nil {
				return
			}
			if !strings.Contains(out, "busy") || time.Now().After(deadline) {
				t.Errorf("umount of the tmpfs at %s failed: %v: %s", dir, err, out)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// waitForFreeSpace polls statfs(2) of dir until its file system has a free
// block for an unprivileged user or limit passes, and returns how long that
// took.
func waitForFreeSpace(dir string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			return time.Since(start), fmt.Errorf("statfs %s: %w", dir, err)
		}
		if st.Bavail > 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > limit {
			return time.Since(start), fmt.Errorf("statfs %s shows 0 available blocks", dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// guardedMount returns m as a proxiedMount without a proxy, so that its
// within and dumpDaemonStacks methods can guard calls on a direct mount.
// Neither method uses the proxy.
func guardedMount(m *mountedFS) *proxiedMount {
	return &proxiedMount{mountedFS: m}
}

// TestWriteErrorReachesWriter writes more than the server's file system
// holds and checks that ENOSPC reaches the writer. gosshfs queues writes,
// so the error may come from a later write(2), from fsync(2) or from
// close(2), but one of them must return it.
func TestWriteErrorReachesWriter(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	cases := []struct {
		name string
		// fsync makes the writer call fsync(2) before close(2).
		fsync bool
	}{
		{"write and close", false},
		{"write, fsync and close", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			remote := scratchDir(t, "remote")
			mountTmpfs(t, remote, diskFullFSSize)
			m := mountRemoteDir(t, fullServer, remote)
			path := filepath.Join(m.mnt, "big")

			var (
				written    int64
				failedStep string
				firstErr   error
				closeErr   error
			)
			elapsed, err := guardedMount(m).within(t, diskFullLimit, "writing 4 MiB to a 1 MiB file system", func() error {
				f, err := os.Create(path)
				if err != nil {
					return fmt.Errorf("create: %w", err)
				}
				buf := make([]byte, 128<<10)
				for i := range buf {
					buf[i] = byte('a' + i%26)
				}
				for written < diskFullWriteSize {
					n, err := f.Write(buf)
					written += int64(n)
					if err != nil {
						failedStep, firstErr = fmt.Sprintf("write(2) after %d bytes", written), err
						break
					}
				}
				if firstErr == nil && tc.fsync {
					if err := f.Sync(); err != nil {
						failedStep, firstErr = "fsync(2)", err
					}
				}
				closeErr = f.Close()
				if firstErr == nil && closeErr != nil {
					failedStep, firstErr = "close(2)", closeErr
				}
				return nil
			})
			if err != nil {
				t.Fatalf("writing %s through the mount: %v", path, err)
			}

			if firstErr == nil {
				t.Fatalf("every write(2), fsync(2) and close(2) of %d bytes to a %d-byte file system succeeded, want ENOSPC from one of them",
					written, diskFullFSSize)
			}
			t.Logf("first error from %s: %s (in %v); close(2) returned %s",
				failedStep, errOrNil(firstErr), elapsed.Round(time.Millisecond), errOrNil(closeErr))
			if !errors.Is(firstErr, syscall.ENOSPC) {
				t.Errorf("%s on a full file system returned %s, want ENOSPC", failedStep, errOrNil(firstErr))
			}

			// The mount must work after the failure: once the big file is
			// gone there is space for a small one.
			if err := os.Remove(path); err != nil {
				t.Fatalf("remove %s after the disk-full error: %v", path, err)
			}
			// The kernel sends FUSE RELEASE after close(2) has returned, and
			// gosshfs closes the remote handles in the background, so the
			// server may keep the removed file's blocks for a moment.
			freed, err := waitForFreeSpace(remote, releaseLimit)
			if err != nil {
				t.Fatalf("the server's file system has no free space %v after the big file was closed and removed, so its remote handles were not closed: %v",
					releaseLimit, err)
			}
			t.Logf("the server's file system had free space %v after the remove", freed.Round(time.Millisecond))

			small := filepath.Join(m.mnt, "small")
			const smallData = "written after the disk-full error\n"
			if err := os.WriteFile(small, []byte(smallData), 0o644); err != nil {
				t.Fatalf("write a small file through the mount after removing the big one: %v", err)
			}
			got, err := os.ReadFile(filepath.Join(remote, "small"))
			if err != nil {
				t.Fatalf("read the small file on the server: %v", err)
			}
			if string(got) != smallData {
				t.Errorf("the server's small file contains %q, want %q", got, smallData)
			}
		})
	}
}

// TestRedialAuthFailureFailsWithEIO cuts every connection of a mount while
// the server rejects the client's key. The redials fail authentication,
// which retrying does not fix, so operations must fail promptly instead of
// hanging, the daemon must log why, and the mount must stay until the
// user unmounts it.
func TestRedialAuthFailureFailsWithEIO(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	// A server with its own authorized_keys file, because the harness's
	// servers share one file with every other test.
	srv := startServerForUsers(t, "authfail")
	remote := scratchDir(t, "remote")
	writeFile(t, filepath.Join(remote, "existing"), "content\n", 0o644)
	m := mountViaProxy(t, srv, remote, "-o", fmt.Sprintf("timeout=%d", authFailTimeout))
	m.waitForConnections(t)
	if _, err := os.Stat(filepath.Join(m.mnt, ".")); err != nil {
		t.Fatalf("stat of the mount root before the fault: %v", err)
	}

	// sshd reads authorized_keys at each login, so an empty file rejects
	// new logins and leaves the established connections alone.
	authorized, err := os.ReadFile(srv.keys.authorizedKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(srv.keys.authorizedKey, nil, 0o644); err != nil {
		t.Fatalf("empty %s: %v", srv.keys.authorizedKey, err)
	}
	// Registered after the mount, so it runs before the mount's teardown.
	t.Cleanup(func() {
		if err := os.WriteFile(srv.keys.authorizedKey, authorized, 0o644); err != nil {
			t.Errorf("restore %s: %v", srv.keys.authorizedKey, err)
		}
	})
	if out, err := srv.sftpBatch("ls /\n"); err == nil {
		t.Fatalf("sftp logged in to %s with an empty authorized_keys file, so the test cannot make redials fail:\n%s", srv.name, out)
	}

	since := time.Now()
	t.Logf("cut %d connections", m.proxy.Cut())

	operations := []struct {
		name string
		run  func() error
	}{
		{"stat of a new name", func() error {
			_, err := os.Stat(filepath.Join(m.mnt, "new-name"))
			return err
		}},
		{"read of a file not opened before", func() error {
			_, err := os.ReadFile(filepath.Join(m.mnt, "existing"))
			return err
		}},
	}
	for _, op := range operations {
		elapsed, err := m.within(t, authFailLimit, op.name+" after the redials failed authentication", op.run)
		t.Logf("%s: %s in %v", op.name, errOrNil(err), elapsed.Round(time.Millisecond))
		if err == nil {
			t.Errorf("%s succeeded although the server rejects every login, want EIO", op.name)
			continue
		}
		// A rejected redial wakes the operations that wait for it, so even
		// the first one fails with EIO instead of waiting for the timeout.
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("%s returned %s, want EIO", op.name, errOrNil(err))
		}
	}

	line, err := waitForLogLine(m.logPath, "redial rejected", since, 10*time.Second)
	if err != nil {
		t.Errorf("daemon log %s: %v", m.logPath, err)
	} else {
		t.Logf("first rejected redial logged %v after the cut: %s", line.at.Sub(since).Round(time.Millisecond), line.line)
		if !strings.Contains(line.line, "gosshfs umount") {
			t.Errorf("the redial-rejected log line does not tell the user to run 'gosshfs umount': %s", line.line)
		}
		if !strings.Contains(line.line, "authentication as") {
			t.Errorf("the redial-rejected log line does not name the authentication failure: %s", line.line)
		}
	}
	// Each connection tries once after the cut and then waits at least a
	// minute, however many operations fail meanwhile.
	if rejected := findLogLines(m.logPath, "redial rejected", since); len(rejected) > faultConns {
		t.Errorf("the daemon logged %d rejected redials within %v of the cut, want at most one per connection (%d)",
			len(rejected), time.Since(since).Round(time.Millisecond), faultConns)
	}

	if !isMounted(m.mnt) {
		t.Fatalf("%s is no longer in /proc/self/mountinfo after the redials failed, want it mounted until the user unmounts it", m.mnt)
	}

	// The user ends the mount while authentication still fails.
	if out, err := fusermountU(m.mnt); err != nil {
		t.Fatalf("fusermount3 -u %s while the server rejects logins failed: %v: %s", m.mnt, err, out)
	}
	if !waitForUnmount(m.mnt, 5*time.Second) {
		t.Errorf("%s is still mounted 5 s after fusermount3 -u", m.mnt)
	}
	if left := waitForExit(m.pids, m.mnt, daemonExitTimeout); len(left) > 0 {
		t.Errorf("the daemon is still running %v after fusermount3 -u while the server rejects logins: %s",
			daemonExitTimeout, describeProcesses(left))
	}
}

// TestWriteErrorSurvivesOtherClose writes more than the server's file
// system holds in one write(2), which returns before the server's reply,
// and lets a child process that inherited the descriptor exit before the
// writer calls fsync. The child's close flushes the file too, and the
// write error must still reach the writer's fsync.
func TestWriteErrorSurvivesOtherClose(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	remote := scratchDir(t, "remote")
	mountTmpfs(t, remote, 256<<10)
	m := mountRemoteDir(t, fullServer, remote)
	f, err := os.Create(filepath.Join(m.mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// One FUSE write request: the mount's max_write is 1 MiB.
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Skipf("write(2) already reported the error (%v), so the case after it cannot be checked", err)
	}
	child := exec.Command("true")
	child.ExtraFiles = []*os.File{f}
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("child holding the descriptor: %v: %s", err, out)
	}
	if err := f.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("fsync after another process closed its copy of the descriptor: got %v, want ENOSPC", err)
	}
}

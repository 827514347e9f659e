package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// systemHelper is where mount(8) from util-linux looks for the helper of
// file system type fuse.gosshfs.
const systemHelper = "/sbin/mount.fuse.gosshfs"

// helperOptions returns the -o list that mounts from fullServer need.
func helperOptions() string {
	return strings.Join([]string{
		"port=" + strconv.Itoa(fullServer.port),
		"IdentityFile=" + fullServer.keys.clientKey,
		"UserKnownHostsFile=" + fullServer.knownHosts,
	}, ",")
}

// newHelperMount creates a remote directory with hello.txt and a mount
// point, and registers the usual teardown for the mount a test makes there.
func newHelperMount(t *testing.T) *mountedFS {
	t.Helper()
	m := &mountedFS{mnt: scratchDir(t, "mnt"), remote: scratchDir(t, "remote")}
	writeFile(t, filepath.Join(m.remote, "hello.txt"), "hello from the helper\n", 0o644)
	t.Cleanup(func() { m.teardown(t) })
	return m
}

// checkHelperMount checks that m is a working fuse.gosshfs mount and
// records the pids of the daemons of the binary under test that serve it.
func checkHelperMount(t *testing.T, m *mountedFS) {
	t.Helper()
	entry, ok := findMount(m.mnt)
	if !ok {
		t.Fatalf("%s is not mounted", m.mnt)
	}
	if entry.fsType != "fuse.gosshfs" {
		t.Errorf("file system type of %s = %q, want fuse.gosshfs", m.mnt, entry.fsType)
	}
	if got := readFile(t, filepath.Join(m.mnt, "hello.txt")); got != "hello from the helper\n" {
		t.Errorf("hello.txt through the mount = %q", got)
	}
}

// umountAndWait unmounts m with umount(8) and checks that its daemon exits.
func umountAndWait(t *testing.T, m *mountedFS) {
	t.Helper()
	if out, err := runWithTimeout(15*time.Second, "umount", m.mnt); err != nil {
		t.Fatalf("umount %s: %v: %s", m.mnt, err, out)
	}
	if isMounted(m.mnt) {
		t.Errorf("%s is still mounted after umount", m.mnt)
	}
	if left := waitForExit(m.pids, m.mnt, daemonExitTimeout); len(left) > 0 {
		t.Errorf("daemon still running %v after umount: %s", daemonExitTimeout, describeProcesses(left))
	}
}

// TestMakeInstallHelper installs into a DESTDIR and mounts by running the
// installed mount.fuse.gosshfs the way mount(8) runs it: as
// "mount.fuse.gosshfs SOURCE TARGET -o OPTIONS", without $HOME.
func TestMakeInstallHelper(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("make install is specific to gosshfs")
	}
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	work := scratchDir(t, "install")
	destDir := filepath.Join(work, "dest")
	// BIN builds a binary of its own, because the one under test may be in
	// use by other tests.
	cmd := exec.Command("make", "--no-print-directory", "install",
		"DESTDIR="+destDir, "PREFIX=/usr/local", "BIN="+filepath.Join(work, "gosshfs"))
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install DESTDIR=%s failed: %v\n%s", destDir, err, out)
	}

	installed := filepath.Join(destDir, "usr/local/bin/gosshfs")
	if info, err := os.Stat(installed); err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("installed binary %s: %v, %v; want mode 0755", installed, info, err)
	}
	link, err := os.Readlink(filepath.Join(destDir, "sbin/mount.fuse.gosshfs"))
	if err != nil || link != "/usr/local/bin/gosshfs" {
		t.Errorf("sbin/mount.fuse.gosshfs links to %q (%v), want /usr/local/bin/gosshfs", link, err)
	}
	for _, file := range []string{
		"usr/local/share/man/man1/gosshfs.1",
		"usr/local/share/bash-completion/completions/gosshfs",
		"usr/local/share/zsh/site-functions/_gosshfs",
		"usr/local/lib/systemd/system/gosshfs@.service",
	} {
		if _, err := os.Stat(filepath.Join(destDir, file)); err != nil {
			t.Errorf("make install did not install %s: %v", file, err)
		}
	}

	// The symbolic link in DESTDIR points to the final location, so run the
	// installed binary through a link of the same name in the scratch
	// directory.
	helper := filepath.Join(work, "mount.fuse.gosshfs")
	if err := os.Symlink(installed, helper); err != nil {
		t.Fatal(err)
	}
	m := newHelperMount(t)
	var env []string
	for _, variable := range os.Environ() {
		if !strings.HasPrefix(variable, "HOME=") {
			env = append(env, variable)
		}
	}
	helperCmd := exec.Command(helper, "root@127.0.0.1:"+m.remote, m.mnt, "-o", "rw,"+helperOptions()+",_netdev,nofail")
	helperCmd.Env = env
	if out, err := helperCmd.CombinedOutput(); err != nil {
		t.Fatalf("%s failed: %v\n%s", helper, err, out)
	}
	// The harness finds daemons by the path of the binary under test, so
	// the installed copy's daemon is looked up by its own path.
	pids := processesRunning(installed, m.mnt)
	t.Cleanup(func() { killProcesses(processesRunning(installed, m.mnt)) })
	checkHelperMount(t, m)
	if len(pids) != 1 {
		t.Errorf("found %d processes of %s serving %s, want 1 daemon", len(pids), installed, m.mnt)
	}

	if out, err := runWithTimeout(15*time.Second, "fusermount3", "-u", m.mnt); err != nil {
		t.Fatalf("fusermount3 -u %s: %v: %s", m.mnt, err, out)
	}
	deadline := time.Now().Add(daemonExitTimeout)
	for len(processesRunning(installed, m.mnt)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := processesRunning(installed, m.mnt); len(left) > 0 {
		t.Errorf("daemon still running after fusermount3 -u: %s", describeProcesses(left))
	}
}

// processesRunning returns the live processes of the executable at path
// whose command line contains s.
func processesRunning(path, s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, _ := os.Readlink("/proc/" + e.Name() + "/exe")
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if exe == path && strings.Contains(string(cmdline), s) && processState(pid) != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestMountCommand mounts with mount(8), by type and from an fstab file,
// through /sbin/mount.fuse.gosshfs, which the test creates as a link to the
// binary under test and removes again.
func TestMountCommand(t *testing.T) {
	requireHarness(t)
	if !isGosshfs() {
		t.Skip("mount.fuse.gosshfs is specific to gosshfs")
	}
	t.Parallel()
	installSystemHelper(t)

	t.Run("Type", func(t *testing.T) {
		m := newHelperMount(t)
		out, err := runWithTimeout(commandTimeout, "mount", "-t", "fuse.gosshfs", "root@127.0.0.1:"+m.remote, m.mnt,
			"-o", helperOptions()+",allow_other,_netdev,nofail,noauto,x-systemd.automount,comment=gosshfs-test")
		if err != nil {
			t.Fatalf("mount -t fuse.gosshfs failed: %v\n%s", err, out)
		}
		checkHelperMount(t, m)
		if m.pids = waitForProcesses(m.mnt, 2*time.Second); len(m.pids) != 1 {
			t.Errorf("found daemons %v serving %s, want 1", m.pids, m.mnt)
		}
		umountAndWait(t, m)
	})

	t.Run("Fstab", func(t *testing.T) {
		m := newHelperMount(t)
		fstab := filepath.Join(scratchDir(t, "fstab"), "fstab")
		line := "root@127.0.0.1:" + m.remote + " " + m.mnt + " fuse.gosshfs " +
			"defaults,_netdev,noauto,nofail,users," + helperOptions() + ",x-systemd.mount-timeout=30 0 0\n"
		writeFile(t, fstab, "# test fstab\n"+line, 0o644)

		out, err := runWithTimeout(commandTimeout, "mount", "-T", fstab, m.mnt)
		if err != nil {
			t.Fatalf("mount -T %s %s failed: %v\n%s\nfstab line: %s", fstab, m.mnt, err, out, line)
		}
		checkHelperMount(t, m)
		if m.pids = waitForProcesses(m.mnt, 2*time.Second); len(m.pids) != 1 {
			t.Errorf("found daemons %v serving %s, want 1", m.pids, m.mnt)
		}
		umountAndWait(t, m)
	})
}

// installSystemHelper links systemHelper to the binary under test for the
// duration of t. It skips t when another file is already there, because
// that belongs to the machine.
func installSystemHelper(t *testing.T) {
	t.Helper()
	target, err := filepath.Abs(binary)
	if err != nil {
		t.Fatal(err)
	}
	existing, err := os.Readlink(systemHelper)
	switch {
	case err == nil && existing == target:
		// Left by an interrupted run of this test; remove it at the end.
	case err == nil || !errors.Is(err, os.ErrNotExist):
		t.Skipf("%s already exists (%v); not replacing it", systemHelper, err)
	default:
		if err := os.Symlink(target, systemHelper); err != nil {
			t.Skipf("cannot create %s: %v", systemHelper, err)
		}
	}
	t.Cleanup(func() {
		if link, err := os.Readlink(systemHelper); err == nil && link == target {
			if err := os.Remove(systemHelper); err != nil {
				t.Errorf("remove %s: %v", systemHelper, err)
			}
		}
	})
}

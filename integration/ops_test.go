package integration

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// opsEnv is one mount shared by the subtests of an operations run. Every
// subtest works in its own directory, created through the mount, so the
// subtests do not see each other's files.
type opsEnv struct {
	srv    *sshServer
	mnt    string
	remote string
}

// dirs creates a fresh directory named after t on the server side and
// returns its path through the mount and on the server.
func (e *opsEnv) dirs(t *testing.T) (mnt, remote string) {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	remote = filepath.Join(e.remote, name)
	if err := os.Mkdir(remote, 0o755); err != nil {
		t.Fatalf("mkdir on the server %s: %v", remote, err)
	}
	return filepath.Join(e.mnt, name), remote
}

// withoutExtensionFallbacks lists, for each OpenSSH extension the second
// server denies, what gosshfs must still guarantee without it. The
// operations test checks these guarantees on that server instead of the
// full behaviour.
// The README's table documents the same fallbacks.
var withoutExtensionFallbacks = map[string]string{
	"posix-rename@openssh.com": "rename onto an existing name still replaces it, but not atomically: the old target may be missing for a moment",
	"hardlink@openssh.com":     "link(2) fails with an errno and creates nothing on the server",
	"statvfs@openssh.com":      "statfs(2) and df still succeed",
	"fsync@openssh.com":        "fsync(2) still sends all written data to the server before it returns",
	"lsetstat@openssh.com":     "chown and utimes on a symlink never change the link's target",
}

// TestOperations runs every file system operation against a server with
// all OpenSSH extensions.
func TestOperations(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	runOperations(t, fullServer)
}

// TestOperationsWithoutExtensions runs the operations against sftp-server
// with the OpenSSH extensions denied; see withoutExtensionFallbacks.
func TestOperationsWithoutExtensions(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	runOperations(t, plainServer)
}

func runOperations(t *testing.T, srv *sshServer) {
	m := mountServer(t, srv)
	e := &opsEnv{srv: srv, mnt: m.mnt, remote: m.remote}

	t.Run("LookupGetattr", e.testLookupGetattr)
	t.Run("Chmod", e.testChmod)
	t.Run("Chown", e.testChown)
	t.Run("Truncate", e.testTruncate)
	t.Run("Utimens", e.testUtimens)
	t.Run("Readdir20000", e.testReaddirLarge)
	t.Run("FileIO", e.testFileIO)
	t.Run("MkdirRmdir", e.testMkdirRmdir)
	t.Run("Unlink", e.testUnlink)
	t.Run("RenameOverExisting", e.testRenameOverExisting)
	t.Run("SymlinkReadlink", e.testSymlinkReadlink)
	t.Run("HardLink", e.testHardLink)
	t.Run("Statfs", e.testStatfs)
	t.Run("OpenFlags", e.testOpenFlags)
	t.Run("CreateModeUmask", e.testCreateModeUmask)
	t.Run("UnlinkedOpenFile", e.testUnlinkedOpenFile)
	t.Run("CreateReadOnlyWritable", e.testCreateReadOnlyWritable)
	t.Run("SharedMmap", e.testSharedMmap)
	t.Run("SymlinkSetattr", e.testSymlinkSetattr)
}

func (e *opsEnv) testLookupGetattr(t *testing.T) {
	mnt, remote := e.dirs(t)
	data := strings.Repeat("x", 1234)
	writeFile(t, filepath.Join(remote, "file"), data, 0o640)
	if err := os.Chown(filepath.Join(remote, "file"), 1234, 2345); err != nil {
		t.Fatal(err)
	}
	setTimes(t, filepath.Join(remote, "file"), 1400000000, 1500000000)
	mkdir(t, filepath.Join(remote, "dir"))
	if err := os.Symlink("file", filepath.Join(remote, "link")); err != nil {
		t.Fatal(err)
	}

	st := lstat(t, filepath.Join(mnt, "file"))
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Errorf("file type of a regular file: got mode %o", st.Mode)
	}
	if st.Size != int64(len(data)) {
		t.Errorf("size: got %d, want %d", st.Size, len(data))
	}
	if st.Mode&0o7777 != 0o640 {
		t.Errorf("permissions: got %o, want 640", st.Mode&0o7777)
	}
	if st.Mtim.Sec != 1500000000 {
		t.Errorf("mtime: got %d, want 1500000000", st.Mtim.Sec)
	}
	if st.Atim.Sec != 1400000000 {
		t.Errorf("atime: got %d, want 1400000000", st.Atim.Sec)
	}
	if st.Uid != 1234 || st.Gid != 2345 {
		t.Errorf("owner with the default idmap=none: got %d:%d, want the server's 1234:2345", st.Uid, st.Gid)
	}

	if st := lstat(t, filepath.Join(mnt, "dir")); st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Errorf("file type of a directory: got mode %o", st.Mode)
	}
	if st := lstat(t, filepath.Join(mnt, "link")); st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Errorf("lstat of a symlink: got mode %o, want a symlink", st.Mode)
	}
	var followed syscall.Stat_t
	if err := syscall.Stat(filepath.Join(mnt, "link"), &followed); err != nil {
		t.Errorf("stat through a symlink: %v", err)
	} else if followed.Size != int64(len(data)) {
		t.Errorf("stat through a symlink: got size %d, want %d", followed.Size, len(data))
	}

	_, err := os.Lstat(filepath.Join(mnt, "missing"))
	if errnoOf(err) != syscall.ENOENT {
		t.Errorf("lstat of a missing name: got %v, want ENOENT", err)
	}
	_, err = os.Lstat(filepath.Join(mnt, "file", "below"))
	if errnoOf(err) != syscall.ENOTDIR {
		t.Errorf("lstat below a regular file: got %v, want ENOTDIR", err)
	}
}

func (e *opsEnv) testChmod(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "file"), "data", 0o644)
	mkdir(t, filepath.Join(remote, "dir"))

	for _, mode := range []os.FileMode{0o604, 0o000, 0o755} {
		if err := os.Chmod(filepath.Join(mnt, "file"), mode); err != nil {
			t.Errorf("chmod %o through the mount: %v", mode, err)
			continue
		}
		if got := lstat(t, filepath.Join(remote, "file")).Mode & 0o7777; got != uint32(mode) {
			t.Errorf("after chmod %o the server has mode %o", mode, got)
		}
		if got := lstat(t, filepath.Join(mnt, "file")).Mode & 0o7777; got != uint32(mode) {
			t.Errorf("after chmod %o the mount shows mode %o", mode, got)
		}
	}

	if err := os.Chmod(filepath.Join(mnt, "dir"), 0o711); err != nil {
		t.Fatalf("chmod of a directory: %v", err)
	}
	if got := lstat(t, filepath.Join(remote, "dir")).Mode & 0o7777; got != 0o711 {
		t.Errorf("after chmod 711 of a directory the server has mode %o", got)
	}
}

func (e *opsEnv) testChown(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "file"), "data", 0o644)

	if err := os.Chown(filepath.Join(mnt, "file"), 4321, 5432); err != nil {
		t.Fatalf("chown 4321:5432 through the mount: %v", err)
	}
	st := lstat(t, filepath.Join(remote, "file"))
	if st.Uid != 4321 {
		t.Errorf("after chown the server's uid is %d, want 4321", st.Uid)
	}
	if st.Gid != 5432 {
		t.Errorf("after chown the server's gid is %d, want 5432", st.Gid)
	}

	// chown with uid -1 changes only the group.
	if err := os.Chown(filepath.Join(mnt, "file"), -1, 6543); err != nil {
		t.Fatalf("chown -1:6543 through the mount: %v", err)
	}
	st = lstat(t, filepath.Join(remote, "file"))
	if st.Uid != 4321 {
		t.Errorf("chown with uid -1 changed the server's uid to %d, want 4321 kept", st.Uid)
	}
	if st.Gid != 6543 {
		t.Errorf("after chgrp the server's gid is %d, want 6543", st.Gid)
	}
	st = lstat(t, filepath.Join(mnt, "file"))
	if st.Uid != 4321 || st.Gid != 6543 {
		t.Errorf("after chown the mount shows %d:%d, want 4321:6543", st.Uid, st.Gid)
	}
}

func (e *opsEnv) testTruncate(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "file"), "0123456789", 0o644)

	if err := os.Truncate(filepath.Join(mnt, "file"), 4); err != nil {
		t.Fatalf("truncate to 4 bytes: %v", err)
	}
	if got := readFile(t, filepath.Join(remote, "file")); got != "0123" {
		t.Errorf("after truncate to 4 the server has %q, want %q", got, "0123")
	}

	if err := os.Truncate(filepath.Join(mnt, "file"), 8); err != nil {
		t.Fatalf("truncate to 8 bytes: %v", err)
	}
	if got := readFile(t, filepath.Join(remote, "file")); got != "0123\x00\x00\x00\x00" {
		t.Errorf("after growing to 8 the server has %q, want zero fill", got)
	}
	if got := lstat(t, filepath.Join(mnt, "file")).Size; got != 8 {
		t.Errorf("after growing to 8 the mount shows size %d", got)
	}

	f, err := os.OpenFile(filepath.Join(mnt, "file"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(2); err != nil {
		t.Fatalf("ftruncate to 2 bytes: %v", err)
	}
	if got := readFile(t, filepath.Join(remote, "file")); got != "01" {
		t.Errorf("after ftruncate to 2 the server has %q, want %q", got, "01")
	}
	if fi, err := f.Stat(); err != nil {
		t.Errorf("fstat after ftruncate: %v", err)
	} else if fi.Size() != 2 {
		t.Errorf("fstat after ftruncate: size %d, want 2", fi.Size())
	}
}

func (e *opsEnv) testUtimens(t *testing.T) {
	mnt, remote := e.dirs(t)
	const atime, mtime = 1000000000, 1100000000
	// Each step uses its own file, created on the server before the mount
	// first looks it up, so no cached attributes are involved.
	newFile := func(name string) (string, string) {
		writeFile(t, filepath.Join(remote, name), "data", 0o644)
		setTimes(t, filepath.Join(remote, name), atime, mtime)
		return filepath.Join(mnt, name), filepath.Join(remote, name)
	}
	// SFTP version 3 carries whole seconds, so "now" is checked to the
	// second.
	isNow := func(sec int64, start time.Time) bool {
		return sec >= start.Unix()-1 && sec <= time.Now().Unix()+1
	}

	t.Run("TouchAtimeOnly", func(t *testing.T) {
		m, r := newFile("touch-a")
		start := time.Now()
		mustRun(t, "", "touch", "-a", m)
		st := lstat(t, r)
		if !isNow(st.Atim.Sec, start) {
			t.Errorf("touch -a: server atime %d, want about %d", st.Atim.Sec, start.Unix())
		}
		if st.Mtim.Sec != mtime {
			t.Errorf("touch -a changed the server mtime to %d, want %d kept", st.Mtim.Sec, mtime)
		}
	})

	t.Run("TouchMtimeOnly", func(t *testing.T) {
		m, r := newFile("touch-m")
		start := time.Now()
		mustRun(t, "", "touch", "-m", m)
		st := lstat(t, r)
		if !isNow(st.Mtim.Sec, start) {
			t.Errorf("touch -m: server mtime %d, want about %d", st.Mtim.Sec, start.Unix())
		}
		if st.Atim.Sec != atime {
			t.Errorf("touch -m changed the server atime to %d, want %d kept", st.Atim.Sec, atime)
		}
	})

	t.Run("TimeBefore1970", func(t *testing.T) {
		// SFTP version 3 times are unsigned 32-bit seconds, so a time
		// before 1970 cannot be stored and must fail with EINVAL.
		m, r := newFile("touch-1960")
		out, err := runProgram("", nil, "touch", "-d", "1960-01-01", m)
		if err == nil {
			t.Errorf("touch -d 1960-01-01 succeeded, want EINVAL")
		} else if !strings.Contains(out, "Invalid argument") {
			t.Errorf("touch -d 1960-01-01 failed with %q, want Invalid argument (EINVAL)", strings.TrimSpace(out))
		}
		st := lstat(t, r)
		if st.Atim.Sec != atime || st.Mtim.Sec != mtime {
			t.Errorf("failed touch -d 1960-01-01 changed the server times to atime %d mtime %d", st.Atim.Sec, st.Mtim.Sec)
		}
	})

	t.Run("PythonUtimeNanoseconds", func(t *testing.T) {
		m, r := newFile("utime-ns")
		out, err := runPython(t, "import os, sys; os.utime(sys.argv[1], ns=(1200000000123456789, 1300000000987654321))", m)
		if err != nil {
			t.Fatalf("os.utime(ns=...) failed: %v\n%s", err, out)
		}
		st := lstat(t, r)
		if st.Atim.Sec != 1200000000 {
			t.Errorf("os.utime(ns=...): server atime %d, want 1200000000", st.Atim.Sec)
		}
		if st.Mtim.Sec != 1300000000 {
			t.Errorf("os.utime(ns=...): server mtime %d, want 1300000000", st.Mtim.Sec)
		}
		if got := lstat(t, m).Mtim.Sec; got != 1300000000 {
			t.Errorf("os.utime(ns=...): mount shows mtime %d, want 1300000000", got)
		}
	})

	t.Run("PythonUtimeNow", func(t *testing.T) {
		m, r := newFile("utime-now")
		start := time.Now()
		out, err := runPython(t, "import os, sys; os.utime(sys.argv[1])", m)
		if err != nil {
			t.Fatalf("os.utime(path) failed: %v\n%s", err, out)
		}
		st := lstat(t, r)
		if !isNow(st.Atim.Sec, start) || !isNow(st.Mtim.Sec, start) {
			t.Errorf("os.utime(path): server atime %d mtime %d, want both about %d", st.Atim.Sec, st.Mtim.Sec, start.Unix())
		}
	})

	t.Run("UtimeOmit", func(t *testing.T) {
		m, r := newFile("utime-omit")
		omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
		now := unix.Timespec{Nsec: unix.UTIME_NOW}

		if err := unix.UtimesNanoAt(unix.AT_FDCWD, m, []unix.Timespec{omit, {Sec: 1400000000}}, 0); err != nil {
			t.Fatalf("utimensat(UTIME_OMIT, 1400000000): %v", err)
		}
		st := lstat(t, r)
		if st.Atim.Sec != atime {
			t.Errorf("atime UTIME_OMIT changed the server atime to %d, want %d", st.Atim.Sec, atime)
		}
		if st.Mtim.Sec != 1400000000 {
			t.Errorf("utimensat mtime 1400000000: server mtime %d", st.Mtim.Sec)
		}

		if err := unix.UtimesNanoAt(unix.AT_FDCWD, m, []unix.Timespec{{Sec: 1450000000}, omit}, 0); err != nil {
			t.Fatalf("utimensat(1450000000, UTIME_OMIT): %v", err)
		}
		st = lstat(t, r)
		if st.Atim.Sec != 1450000000 {
			t.Errorf("utimensat atime 1450000000: server atime %d", st.Atim.Sec)
		}
		if st.Mtim.Sec != 1400000000 {
			t.Errorf("mtime UTIME_OMIT changed the server mtime to %d, want 1400000000", st.Mtim.Sec)
		}

		start := time.Now()
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, m, []unix.Timespec{now, omit}, 0); err != nil {
			t.Fatalf("utimensat(UTIME_NOW, UTIME_OMIT): %v", err)
		}
		st = lstat(t, r)
		if !isNow(st.Atim.Sec, start) {
			t.Errorf("atime UTIME_NOW: server atime %d, want about %d", st.Atim.Sec, start.Unix())
		}
		if st.Mtim.Sec != 1400000000 {
			t.Errorf("mtime UTIME_OMIT with atime UTIME_NOW changed the server mtime to %d", st.Mtim.Sec)
		}
	})
}

func (e *opsEnv) testReaddirLarge(t *testing.T) {
	mnt, remote := e.dirs(t)
	const count = 20000
	want := make([]string, 0, count)
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("entry-%05d-%s", i, strings.Repeat("n", 24))
		want = append(want, name)
		f, err := os.Create(filepath.Join(remote, name))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}

	start := time.Now()
	f, err := os.Open(mnt)
	if err != nil {
		t.Fatalf("opendir through the mount: %v", err)
	}
	got, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		t.Fatalf("readdir of %d entries: %v", count, err)
	}
	t.Logf("listed %d entries in %v", len(got), time.Since(start))

	sort.Strings(got)
	if len(got) != count {
		t.Errorf("readdir returned %d entries, want %d", len(got), count)
	}
	seen := map[string]bool{}
	for _, name := range got {
		if seen[name] {
			t.Errorf("readdir returned %q twice", name)
		}
		seen[name] = true
	}
	missing := 0
	for _, name := range want {
		if !seen[name] {
			missing++
			if missing <= 5 {
				t.Errorf("readdir did not return %q", name)
			}
		}
	}
	if missing > 5 {
		t.Errorf("readdir missed %d entries in all", missing)
	}
}

func (e *opsEnv) testFileIO(t *testing.T) {
	mnt, remote := e.dirs(t)
	data := make([]byte, 3<<20+123)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}

	f, err := os.Create(filepath.Join(mnt, "file"))
	if err != nil {
		t.Fatalf("create through the mount: %v", err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatalf("write %d bytes: %v", len(data), err)
	}
	if fi, err := f.Stat(); err != nil {
		t.Errorf("fstat of the open file: %v", err)
	} else if fi.Size() != int64(len(data)) {
		t.Errorf("fstat of the open file after writing: size %d, want %d", fi.Size(), len(data))
	}

	syncErr := f.Sync()
	if e.srv.extensions && syncErr != nil {
		t.Errorf("fsync: %v", syncErr)
	}
	if !e.srv.extensions {
		t.Logf("fsync without fsync@openssh.com returned %v", syncErr)
	}
	// After fsync, before close, the data must be on the server.
	if got, err := os.ReadFile(filepath.Join(remote, "file")); err != nil {
		t.Errorf("read on the server after fsync: %v", err)
	} else if !bytes.Equal(got, data) {
		t.Errorf("after fsync the server has %d bytes that differ from the %d written", len(got), len(data))
	}

	if err := f.Close(); err != nil {
		t.Fatalf("close (flush and release): %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "file")); err != nil {
		t.Errorf("read back through the mount: %v", err)
	} else if !bytes.Equal(got, data) {
		t.Errorf("read back through the mount: %d bytes that differ from the %d written", len(got), len(data))
	}

	// Overwrite in the middle and extend past the end through one fd.
	g, err := os.OpenFile(filepath.Join(mnt, "file"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.WriteAt([]byte("MIDDLE"), 1<<20); err != nil {
		t.Fatalf("pwrite in the middle: %v", err)
	}
	if _, err := g.WriteAt([]byte("TAIL"), int64(len(data))); err != nil {
		t.Fatalf("pwrite at the end: %v", err)
	}
	buf := make([]byte, 6)
	if _, err := g.ReadAt(buf, 1<<20); err != nil {
		t.Errorf("pread of the written bytes: %v", err)
	} else if string(buf) != "MIDDLE" {
		t.Errorf("pread of the written bytes: got %q", buf)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("close after pwrite: %v", err)
	}

	want := append(append([]byte{}, data...), "TAIL"...)
	copy(want[1<<20:], "MIDDLE")
	if got, err := os.ReadFile(filepath.Join(remote, "file")); err != nil {
		t.Errorf("read on the server after pwrite: %v", err)
	} else if !bytes.Equal(got, want) {
		t.Errorf("after pwrite the server has %d bytes that differ from the expected %d", len(got), len(want))
	}
}

func (e *opsEnv) testMkdirRmdir(t *testing.T) {
	mnt, remote := e.dirs(t)

	if err := os.Mkdir(filepath.Join(mnt, "sub"), 0o750); err != nil {
		t.Fatalf("mkdir through the mount: %v", err)
	}
	st, err := os.Lstat(filepath.Join(remote, "sub"))
	if err != nil {
		t.Fatalf("the new directory is missing on the server: %v", err)
	}
	if !st.IsDir() {
		t.Errorf("mkdir created a %v on the server, want a directory", st.Mode())
	}
	if err := os.Mkdir(filepath.Join(mnt, "sub"), 0o750); errnoOf(err) != syscall.EEXIST {
		t.Errorf("mkdir of an existing name: got %v, want EEXIST", err)
	}

	writeFile(t, filepath.Join(remote, "sub", "file"), "x", 0o644)
	if err := syscall.Rmdir(filepath.Join(mnt, "sub")); errnoOf(err) != syscall.ENOTEMPTY {
		t.Errorf("rmdir of a non-empty directory: got %v, want ENOTEMPTY", err)
	}
	if _, err := os.Lstat(filepath.Join(remote, "sub", "file")); err != nil {
		t.Errorf("failed rmdir removed content on the server: %v", err)
	}

	if err := os.Remove(filepath.Join(mnt, "sub", "file")); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	if err := syscall.Rmdir(filepath.Join(mnt, "sub")); err != nil {
		t.Fatalf("rmdir of an empty directory: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(remote, "sub")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after rmdir the directory still exists on the server (lstat: %v)", err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "sub")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after rmdir the mount still shows the directory (lstat: %v)", err)
	}
}

func (e *opsEnv) testUnlink(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "file"), "data", 0o644)

	if err := syscall.Unlink(filepath.Join(mnt, "file")); err != nil {
		t.Fatalf("unlink through the mount: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(remote, "file")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after unlink the file still exists on the server (lstat: %v)", err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "file")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after unlink the mount still shows the file (lstat: %v)", err)
	}
	if err := syscall.Unlink(filepath.Join(mnt, "file")); errnoOf(err) != syscall.ENOENT {
		t.Errorf("unlink of a missing name: got %v, want ENOENT", err)
	}
	if err := syscall.Unlink(mnt); errnoOf(err) != syscall.EISDIR {
		t.Errorf("unlink of a directory: got %v, want EISDIR", err)
	}
}

func (e *opsEnv) testRenameOverExisting(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "a"), "new content", 0o644)
	writeFile(t, filepath.Join(remote, "b"), "old", 0o644)

	if err := os.Rename(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")); err != nil {
		t.Fatalf("rename a onto the existing b: %v", err)
	}
	if got := readFile(t, filepath.Join(remote, "b")); got != "new content" {
		t.Errorf("after rename the server's b has %q, want %q", got, "new content")
	}
	if _, err := os.Lstat(filepath.Join(remote, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after rename the server still has a (lstat: %v)", err)
	}
	if got := readFile(t, filepath.Join(mnt, "b")); got != "new content" {
		t.Errorf("after rename the mount's b has %q", got)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after rename the mount still shows a (lstat: %v)", err)
	}

	// Directories move with their content.
	mkdir(t, filepath.Join(remote, "dir"))
	writeFile(t, filepath.Join(remote, "dir", "inner"), "inner", 0o644)
	if err := os.Rename(filepath.Join(mnt, "dir"), filepath.Join(mnt, "moved")); err != nil {
		t.Fatalf("rename of a directory: %v", err)
	}
	if got := readFile(t, filepath.Join(remote, "moved", "inner")); got != "inner" {
		t.Errorf("after renaming the directory the server's moved/inner has %q", got)
	}

	// Atomicity: a reader on the server must never find the target
	// missing while new versions are renamed onto it.
	target := filepath.Join(remote, "target")
	writeFile(t, target, "version 0", 0o644)
	var missing atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
				missing.Add(1)
			}
		}
	}()
	const renames = 100
	for i := 1; i <= renames; i++ {
		tmp := filepath.Join(mnt, "tmp-"+strconv.Itoa(i))
		if err := os.WriteFile(tmp, []byte("version "+strconv.Itoa(i)), 0o644); err != nil {
			t.Errorf("write %s: %v", tmp, err)
			break
		}
		if err := os.Rename(tmp, filepath.Join(mnt, "target")); err != nil {
			t.Errorf("rename %d onto the existing target: %v", i, err)
			break
		}
	}
	close(stop)
	wg.Wait()

	if got := readFile(t, target); got != "version "+strconv.Itoa(renames) {
		t.Errorf("after %d renames the server's target has %q", renames, got)
	}
	if e.srv.extensions && missing.Load() > 0 {
		t.Errorf("a reader on the server found the rename target missing %d times; with posix-rename@openssh.com the replacement must be atomic", missing.Load())
	}
	if !e.srv.extensions {
		t.Logf("without posix-rename@openssh.com a reader on the server found the target missing %d times", missing.Load())
	}
}

func (e *opsEnv) testSymlinkReadlink(t *testing.T) {
	mnt, remote := e.dirs(t)
	targets := []string{
		"plain",
		"target with spaces",
		"../up/../down/./x",
		"/absolute/path/that/does/not/exist",
		"dir/",
	}
	for i, target := range targets {
		name := "link" + strconv.Itoa(i)
		if err := os.Symlink(target, filepath.Join(mnt, name)); err != nil {
			t.Errorf("symlink %q: %v", target, err)
			continue
		}
		if got, err := os.Readlink(filepath.Join(remote, name)); err != nil {
			t.Errorf("readlink on the server of the link to %q: %v", target, err)
		} else if got != target {
			t.Errorf("the server stores the link target %q, want exactly %q", got, target)
		}
		if got, err := os.Readlink(filepath.Join(mnt, name)); err != nil {
			t.Errorf("readlink through the mount of the link to %q: %v", target, err)
		} else if got != target {
			t.Errorf("readlink through the mount returned %q, want %q", got, target)
		}
	}

	// A link made on the server reads the same through the mount.
	if err := os.Symlink("server/made", filepath.Join(remote, "server-link")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(filepath.Join(mnt, "server-link")); err != nil || got != "server/made" {
		t.Errorf("readlink of a server-made link: got %q, %v", got, err)
	}
	if _, err := os.Readlink(filepath.Join(mnt, "link0-missing")); errnoOf(err) != syscall.ENOENT {
		t.Errorf("readlink of a missing name: got %v, want ENOENT", err)
	}
}

func (e *opsEnv) testHardLink(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "file"), "shared content", 0o644)

	err := os.Link(filepath.Join(mnt, "file"), filepath.Join(mnt, "link"))
	if !e.srv.extensions {
		// See withoutExtensionFallbacks["hardlink@openssh.com"].
		if err == nil {
			t.Errorf("link(2) succeeded although the server denies hardlink@openssh.com")
		} else {
			t.Logf("link(2) without hardlink@openssh.com failed with %v", errnoOf(err))
		}
		if _, statErr := os.Lstat(filepath.Join(remote, "link")); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("failed link(2) left a name on the server (lstat: %v)", statErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("link through the mount: %v", err)
	}

	orig, err1 := os.Lstat(filepath.Join(remote, "file"))
	link, err2 := os.Lstat(filepath.Join(remote, "link"))
	if err1 != nil || err2 != nil {
		t.Fatalf("lstat on the server: %v, %v", err1, err2)
	}
	if !os.SameFile(orig, link) {
		t.Errorf("on the server link and file are different inodes, want one inode")
	}
	if got := lstat(t, filepath.Join(remote, "file")).Nlink; got != 2 {
		t.Errorf("on the server the link count is %d, want 2", got)
	}
	if got := readFile(t, filepath.Join(remote, "link")); got != "shared content" {
		t.Errorf("on the server the link has %q", got)
	}
	if got := lstat(t, filepath.Join(mnt, "link")).Nlink; got != 2 {
		t.Errorf("through the mount the new link shows link count %d, want 2", got)
	}

	// A write through one name is seen through the other.
	if err := os.WriteFile(filepath.Join(mnt, "link"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(remote, "file")); got != "changed" {
		t.Errorf("after writing through the link the server's file has %q", got)
	}
	if err := os.Link(filepath.Join(mnt, "file"), filepath.Join(mnt, "link")); errnoOf(err) != syscall.EEXIST {
		t.Errorf("link onto an existing name: got %v, want EEXIST", err)
	}
}

func (e *opsEnv) testStatfs(t *testing.T) {
	mnt, remote := e.dirs(t)

	out, err := runProgram("", nil, "df", "-P", mnt)
	if err != nil {
		t.Errorf("df -P on the mount failed: %v\n%s", err, out)
	}

	var onMount, onServer unix.Statfs_t
	if err := unix.Statfs(mnt, &onMount); err != nil {
		t.Fatalf("statfs through the mount: %v", err)
	}
	if err := unix.Statfs(remote, &onServer); err != nil {
		t.Fatal(err)
	}
	if !e.srv.extensions {
		t.Logf("statfs without statvfs@openssh.com: %d blocks of %d bytes, %d free", onMount.Blocks, onMount.Bsize, onMount.Bfree)
		return
	}
	mountTotal := float64(onMount.Blocks) * float64(onMount.Frsize)
	serverTotal := float64(onServer.Blocks) * float64(onServer.Frsize)
	if mountTotal < serverTotal*0.99 || mountTotal > serverTotal*1.01 {
		t.Errorf("statfs total size through the mount is %.0f bytes, the server's file system has %.0f", mountTotal, serverTotal)
	}
	if onMount.Namelen == 0 {
		t.Errorf("statfs name length is 0")
	}
}

func (e *opsEnv) testOpenFlags(t *testing.T) {
	mnt, remote := e.dirs(t)

	t.Run("Append", func(t *testing.T) {
		writeFile(t, filepath.Join(remote, "append"), "start\n", 0o644)
		f, err := os.OpenFile(filepath.Join(mnt, "append"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatalf("open O_APPEND: %v", err)
		}
		if _, err := f.Write([]byte("more\n")); err != nil {
			t.Errorf("write with O_APPEND: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if got := readFile(t, filepath.Join(remote, "append")); got != "start\nmore\n" {
			t.Errorf("after an O_APPEND write the server has %q, want %q", got, "start\nmore\n")
		}
	})

	t.Run("Excl", func(t *testing.T) {
		writeFile(t, filepath.Join(remote, "excl"), "keep", 0o644)
		_, err := os.OpenFile(filepath.Join(mnt, "excl"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errnoOf(err) != syscall.EEXIST {
			t.Errorf("O_CREAT|O_EXCL on an existing file: got %v, want EEXIST", err)
		}
		if got := readFile(t, filepath.Join(remote, "excl")); got != "keep" {
			t.Errorf("failed O_EXCL open changed the server's file to %q", got)
		}
		f, err := os.OpenFile(filepath.Join(mnt, "excl-new"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatalf("O_CREAT|O_EXCL on a new name: %v", err)
		}
		f.Close()
		if _, err := os.Lstat(filepath.Join(remote, "excl-new")); err != nil {
			t.Errorf("O_EXCL create left no file on the server: %v", err)
		}
	})

	t.Run("Trunc", func(t *testing.T) {
		writeFile(t, filepath.Join(remote, "trunc"), "a long old content", 0o644)
		f, err := os.OpenFile(filepath.Join(mnt, "trunc"), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatalf("open O_TRUNC: %v", err)
		}
		if got := lstat(t, filepath.Join(remote, "trunc")).Size; got != 0 {
			t.Errorf("after open O_TRUNC the server's size is %d, want 0", got)
		}
		if _, err := f.Write([]byte("x")); err != nil {
			t.Errorf("write after O_TRUNC: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if got := readFile(t, filepath.Join(remote, "trunc")); got != "x" {
			t.Errorf("after O_TRUNC and a write the server has %q, want %q", got, "x")
		}
	})
}

func (e *opsEnv) testCreateModeUmask(t *testing.T) {
	mnt, remote := e.dirs(t)
	// The sftp-server runs with sshd's umask 022, so umasks 000 and 002
	// show whether the server's umask leaked into the result.
	script := `
import os, sys
d, umask = sys.argv[1], int(sys.argv[2], 8)
os.umask(umask)
os.close(os.open(os.path.join(d, "file-" + sys.argv[2]), os.O_CREAT | os.O_WRONLY, 0o666))
os.mkdir(os.path.join(d, "dir-" + sys.argv[2]), 0o777)
`
	for _, tc := range []struct {
		umask     string
		file, dir uint32
	}{
		{umask: "000", file: 0o666, dir: 0o777},
		{umask: "002", file: 0o664, dir: 0o775},
		{umask: "027", file: 0o640, dir: 0o750},
		{umask: "077", file: 0o600, dir: 0o700},
	} {
		if out, err := runPython(t, script, mnt, tc.umask); err != nil {
			t.Errorf("create with umask %s failed: %v\n%s", tc.umask, err, out)
			continue
		}
		if got := lstat(t, filepath.Join(remote, "file-"+tc.umask)).Mode & 0o7777; got != tc.file {
			t.Errorf("open(O_CREAT, 0666) with umask %s: server mode %o, want %o", tc.umask, got, tc.file)
		}
		if got := lstat(t, filepath.Join(remote, "dir-"+tc.umask)).Mode & 0o7777; got != tc.dir {
			t.Errorf("mkdir(0777) with umask %s: server mode %o, want %o", tc.umask, got, tc.dir)
		}
	}
}

func (e *opsEnv) testUnlinkedOpenFile(t *testing.T) {
	mnt, remote := e.dirs(t)
	f, err := os.OpenFile(filepath.Join(mnt, "open"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(filepath.Join(mnt, "open")); err != nil {
		t.Fatalf("unlink of an open file: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "open")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("right after unlink the mount still finds the name (lstat: %v)", err)
	}
	if _, err := os.Lstat(filepath.Join(remote, "open")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("right after unlink the server still has the name (lstat: %v)", err)
	}
	if names := listNames(t, mnt); len(names) != 0 {
		t.Errorf("right after unlink the mount lists %q, want an empty directory", names)
	}

	buf := make([]byte, 6)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Errorf("pread through the fd of the unlinked file: %v", err)
	} else if string(buf) != "before" {
		t.Errorf("pread through the fd of the unlinked file: got %q", buf)
	}
	if _, err := f.Write([]byte("after")); err != nil {
		t.Errorf("write through the fd of the unlinked file: %v", err)
	}
	all := make([]byte, 11)
	if n, err := f.ReadAt(all, 0); err != nil || string(all[:n]) != "beforeafter" {
		t.Errorf("pread after writing to the unlinked file: got %q, %v; want %q", all[:n], err, "beforeafter")
	}
	if fi, err := f.Stat(); err != nil {
		t.Errorf("fstat of the unlinked file: %v", err)
	} else if fi.Size() != 11 {
		t.Errorf("fstat of the unlinked file: size %d, want 11", fi.Size())
	}
	if err := f.Close(); err != nil {
		t.Errorf("close of the unlinked file: %v", err)
	}

	// The kernel sends RELEASE after close returns, so any hidden file on
	// the server may take a moment to go.
	deadline := time.Now().Add(5 * time.Second)
	for {
		names := listNames(t, remote)
		if len(names) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("5 s after closing the unlinked file the server directory still has %q", names)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listNames returns the sorted names in dir.
func listNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("readdir %s: %v", dir, err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	return names
}

func (e *opsEnv) testCreateReadOnlyWritable(t *testing.T) {
	mnt, remote := e.dirs(t)
	out, err := runPython(t, `
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o444)
os.write(fd, b"written through the creating fd")
os.close(fd)
`, filepath.Join(mnt, "readonly"))
	if err != nil {
		t.Fatalf("writing to a file created with mode 0444 through its creating fd failed: %v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(remote, "readonly")); got != "written through the creating fd" {
		t.Errorf("the server's file has %q", got)
	}
	if got := lstat(t, filepath.Join(remote, "readonly")).Mode & 0o7777; got != 0o444 {
		t.Errorf("the server's file has mode %o, want 444", got)
	}
}

func (e *opsEnv) testSharedMmap(t *testing.T) {
	mnt, remote := e.dirs(t)
	// The script checks the server's copy itself between msync and close.
	out, err := runPython(t, `
import mmap, os, sys
path, remote = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:5] = b"hello"
m.flush()
with open(remote, "rb") as f:
    got = f.read(5)
if got != b"hello":
    sys.exit("after msync the server has %r at offset 0, want b'hello'" % got)
m[4096:4101] = b"world"
m.close()
os.close(fd)
`, filepath.Join(mnt, "mapped"), filepath.Join(remote, "mapped"))
	if err != nil {
		t.Fatalf("shared mmap: %v\n%s", err, out)
	}
	data := readFile(t, filepath.Join(remote, "mapped"))
	if len(data) != 8192 {
		t.Fatalf("after munmap and close the server's file has %d bytes, want 8192", len(data))
	}
	if data[4096:4101] != "world" {
		t.Errorf("after munmap and close the server has %q at offset 4096, want %q", data[4096:4101], "world")
	}
}

func (e *opsEnv) testSymlinkSetattr(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "target"), "target", 0o644)
	setTimes(t, filepath.Join(remote, "target"), 1000000000, 1000000000)
	if err := os.Symlink("target", filepath.Join(remote, "link")); err != nil {
		t.Fatal(err)
	}

	chownErr := os.Lchown(filepath.Join(mnt, "link"), 3333, 4444)
	touchOut, touchErr := runProgram("", nil, "touch", "-h", "-d", "@1200000000", filepath.Join(mnt, "link"))

	target := lstat(t, filepath.Join(remote, "target"))
	if target.Uid != 0 || target.Gid != 0 {
		t.Errorf("lchown of the symlink changed its target's owner to %d:%d", target.Uid, target.Gid)
	}
	if target.Mtim.Sec != 1000000000 {
		t.Errorf("touch -h of the symlink changed its target's mtime to %d", target.Mtim.Sec)
	}

	link := lstat(t, filepath.Join(remote, "link"))
	if !e.srv.extensions {
		// See withoutExtensionFallbacks["lsetstat@openssh.com"]: without
		// it the change is skipped on the link, as the README documents,
		// because plain SETSTAT would change the target instead.
		if chownErr != nil {
			t.Errorf("lchown of a symlink without lsetstat: %v, want the documented skip", chownErr)
		}
		if touchErr != nil {
			t.Errorf("touch -h of a symlink without lsetstat: %v: %s, want the documented skip", touchErr, strings.TrimSpace(touchOut))
		}
		if link.Uid != 0 || link.Gid != 0 {
			t.Errorf("lchown without lsetstat changed the server's symlink to %d:%d, want it left at 0:0", link.Uid, link.Gid)
		}
		return
	}
	if chownErr != nil {
		t.Errorf("lchown of a symlink: %v", chownErr)
	}
	if touchErr != nil {
		t.Errorf("touch -h of a symlink: %v: %s", touchErr, touchOut)
	}
	if link.Uid != 3333 || link.Gid != 4444 {
		t.Errorf("after lchown the server's symlink is owned by %d:%d, want 3333:4444", link.Uid, link.Gid)
	}
	if link.Mtim.Sec != 1200000000 {
		t.Errorf("after touch -h the server's symlink has mtime %d, want 1200000000", link.Mtim.Sec)
	}
}

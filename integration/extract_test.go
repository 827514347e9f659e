package integration

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTimesAfterWrites does what tar and cp -p do for each file: create it
// exclusively, write it, set its times through the descriptor while the
// writes may still be on their way, and close it. The server must hold
// every byte and the times set last, on a server that applies requests in
// order (where the time change is sent behind the writes) and on one
// without the OpenSSH extensions (where it waits for them).
func TestTimesAfterWrites(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	for _, srv := range []*sshServer{fullServer, plainServer} {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			m := mountServer(t, srv)
			data := make([]byte, 3<<20+12345)
			if _, err := rand.Read(data); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name  string
				atime unix.Timespec
			}{
				// UTIME_OMIT keeps the atime the server gave the new file.
				{"omit-atime", unix.Timespec{Nsec: unix.UTIME_OMIT}},
				{"both-times", unix.Timespec{Sec: 1400000000}},
			}
			for _, c := range cases {
				before := time.Now().Add(-2 * time.Second).Unix()
				p := filepath.Join(m.mnt, c.name)
				fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				for off := 0; off < len(data); off += 64 << 10 {
					end := min(off+64<<10, len(data))
					if _, err := unix.Pwrite(fd, data[off:end], int64(off)); err != nil {
						t.Fatal(err)
					}
				}
				ts := []unix.Timespec{c.atime, {Sec: 1500000000}}
				if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
					// Older kernels want a NULL path instead.
					if err := futimens(fd, ts); err != nil {
						t.Fatal(err)
					}
				}
				if err := unix.Close(fd); err != nil {
					t.Fatalf("close: %v", err)
				}

				// Times first: reading the file on the server changes its atime.
				st := lstat(t, filepath.Join(m.remote, c.name))
				if st.Mtim.Sec != 1500000000 {
					t.Errorf("%s: server mtime %d, want 1500000000: a write landed after the time change", c.name, st.Mtim.Sec)
				}
				if c.atime.Nsec == unix.UTIME_OMIT {
					if st.Atim.Sec < before {
						t.Errorf("%s: server atime %d, want the creation time (after %d)", c.name, st.Atim.Sec, before)
					}
				} else if st.Atim.Sec != c.atime.Sec {
					t.Errorf("%s: server atime %d, want %d", c.name, st.Atim.Sec, c.atime.Sec)
				}
				got, err := os.ReadFile(filepath.Join(m.remote, c.name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Errorf("%s: the server holds %d bytes, not the %d written", c.name, len(got), len(data))
				}
				if st := lstat(t, p); st.Mtim.Sec != 1500000000 || st.Size != int64(len(data)) {
					t.Errorf("%s: the mount shows size %d mtime %d, want %d and 1500000000", c.name, st.Size, st.Mtim.Sec, len(data))
				}
			}
		})
	}
}

// futimens calls utimensat(fd, NULL, ts, 0).
func futimens(fd int, ts []unix.Timespec) error {
	return unix.UtimesNanoAt(fd, "", ts, 0)
}

// TestCreateInMadeDirectory checks the lookups in a directory made through
// the mount and not listed since. Calls that create a name get ENOENT from
// their lookup without a round trip, and the create itself then checks the
// name on the server. Every other lookup goes to the server, so a name made
// on the server shows up at once.
func TestCreateInMadeDirectory(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	m := mountServer(t, fullServer)
	mnt := filepath.Join(m.mnt, "made")
	remote := filepath.Join(m.remote, "made")
	if err := os.Mkdir(mnt, 0o750); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, remote); st.Mode&0o7777 != 0o750 {
		t.Errorf("mkdir 0750: the server has mode %o", st.Mode&0o7777)
	}
	writeFile(t, filepath.Join(mnt, "ours"), "ours\n", 0o644)
	if got := readFile(t, filepath.Join(mnt, "ours")); got != "ours\n" {
		t.Errorf("file created in the new directory reads %q", got)
	}
	writeFile(t, filepath.Join(remote, "theirs"), "theirs\n", 0o644)
	mkdir(t, filepath.Join(remote, "theirdir"))
	writeFile(t, filepath.Join(remote, "theirs2"), "theirs2\n", 0o644)
	writeFile(t, filepath.Join(remote, "theirs3"), "theirs3\n", 0o644)

	if _, err := os.OpenFile(filepath.Join(mnt, "theirs"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("exclusive create of a name made on the server: got %v, want EEXIST", err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "theirdir"), 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("mkdir of a directory made on the server: got %v, want EEXIST", err)
	}
	f, err := os.OpenFile(filepath.Join(mnt, "theirs2"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("open with O_CREAT of a file made on the server: %v", err)
	}
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	f.Close()
	if string(buf[:n]) != "theirs2\n" {
		t.Errorf("open with O_CREAT of a file made on the server reads %q, want its content", buf[:n])
	}
	if got := readFile(t, filepath.Join(mnt, "theirs3")); got != "theirs3\n" {
		t.Errorf("a file made on the server in a directory made through the mount reads %q", got)
	}
	entries, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := "[ours theirdir theirs theirs2 theirs3]"; fmt.Sprint(names) != want {
		t.Errorf("listing of the made directory: got %v, want %s from the server", names, want)
	}
}

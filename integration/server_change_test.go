package integration

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenAfterServerRemoval opens names the kernel still has cached
// after the server removed their files: open with O_CREAT must create
// the file again, as shell redirection and dd do, and a plain open must
// fail with ENOENT, not a stale-handle error.
func TestOpenAfterServerRemoval(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	m := mountServer(t, fullServer)
	for _, name := range []string{"recreated", "plain"} {
		writeFile(t, filepath.Join(m.mnt, name), "first\n", 0o644)
		lstat(t, filepath.Join(m.mnt, name))
		if err := os.Remove(filepath.Join(m.remote, name)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(m.mnt, "recreated"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("open with O_CREAT|O_TRUNC of a name removed on the server: %v", err)
	}
	if _, err := f.WriteString("second\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(m.remote, "recreated")); got != "second\n" {
		t.Errorf("the server has %q, want the new content", got)
	}
	if _, err := os.Open(filepath.Join(m.mnt, "plain")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("open of a file removed on the server: got %v, want ENOENT", err)
	}
}

// TestReadGrowingOpenFile follows a file the server appends to through a
// descriptor opened before, as tail -f does: once fstat shows the new
// size, reads return the new bytes.
func TestReadGrowingOpenFile(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	m := mountServer(t, fullServer, "-o", "cache_timeout=2")
	writeFile(t, filepath.Join(m.remote, "log"), "first\n", 0o644)
	f, err := os.Open(filepath.Join(m.mnt, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 100)
	if n, _ := f.Read(buf); string(buf[:n]) != "first\n" {
		t.Fatalf("first read: %q", buf[:n])
	}
	w, err := os.OpenFile(filepath.Join(m.remote, "log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("second\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()

	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == 13 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fstat still shows size %d 10 s after the server appended, want 13 within the cache timeout", fi.Size())
		}
		time.Sleep(200 * time.Millisecond)
	}
	n, err := f.ReadAt(buf, 6)
	if string(buf[:n]) != "second\n" {
		t.Errorf("read of the appended bytes through the open descriptor: %q, %v; want \"second\\n\"", buf[:n], err)
	}
	n, _ = f.ReadAt(buf, 0)
	if string(buf[:n]) != "first\nsecond\n" {
		t.Errorf("read from the start: %q, want the whole file", buf[:n])
	}
}

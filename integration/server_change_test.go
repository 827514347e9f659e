package integration

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
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

package serve

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestStatVFS(t *testing.T) {
	client, dir := startSFTP(t)

	got, err := client.StatVFS("/")
	if err != nil {
		t.Fatalf("StatVFS: %v", err)
	}
	var want unix.Statfs_t
	if err := unix.Statfs(dir, &want); err != nil {
		t.Fatal(err)
	}
	if got.Bsize != uint64(want.Bsize) {
		t.Errorf("Bsize = %d, want %d", got.Bsize, want.Bsize)
	}
	if got.Frsize != uint64(want.Frsize) {
		t.Errorf("Frsize = %d, want %d", got.Frsize, want.Frsize)
	}
	if got.Blocks != want.Blocks {
		t.Errorf("Blocks = %d, want %d", got.Blocks, want.Blocks)
	}
	if got.Namemax != uint64(want.Namelen) {
		t.Errorf("Namemax = %d, want %d", got.Namemax, want.Namelen)
	}
	if _, err := client.StatVFS("/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("StatVFS of a missing path = %v, want os.ErrNotExist", err)
	}
}

package integration

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// readAroundSize is large enough that random reads of it fetch whole
// blocks and store the bytes around them in the kernel's page cache.
const readAroundSize = 8 << 20

// randomContent returns size pseudo-random bytes from seed.
func randomContent(size int, seed uint64) []byte {
	b := make([]byte, size)
	rand.NewChaCha8(seedBytes(seed)).Read(b)
	return b
}

// mountWithRandomFile mounts a new server directory that holds name with
// readAroundSize pseudo-random bytes from seed. It returns the mount and
// the file's bytes.
func mountWithRandomFile(t *testing.T, name string, seed uint64) (*mountedFS, []byte) {
	t.Helper()
	remote := scratchDir(t, "remote")
	m := mountRemoteDir(t, fullServer, remote)
	content := randomContent(readAroundSize, seed)
	if err := os.WriteFile(filepath.Join(remote, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return m, content
}

// preadAll reads every 4 KiB page of f in a random order and reports the
// first page that differs from want.
func preadAll(t *testing.T, f *os.File, want []byte, seed uint64, label string) {
	t.Helper()
	pages := len(want) / 4096
	order := rand.New(rand.NewPCG(seed, seed)).Perm(pages)
	buf := make([]byte, 4096)
	for _, page := range order {
		off := int64(page) * 4096
		n, err := f.ReadAt(buf, off)
		if err != nil || n != len(buf) {
			t.Fatalf("%s: read of 4096 bytes at %d returned %d, %v", label, off, n, err)
		}
		if !bytes.Equal(buf, want[off:off+4096]) {
			t.Fatalf("%s: the 4096 bytes at %d differ from the server's", label, off)
		}
	}
}

// TestReadAroundMatchesServer reads a large file in a random order, so
// that most pages come from blocks stored in the kernel's page cache by
// earlier reads, and checks every page against the server's bytes. After
// the server replaces the file, a new open must read the new bytes.
func TestReadAroundMatchesServer(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	name := "random.bin"
	m, first := mountWithRandomFile(t, name, 5)
	f, err := os.Open(filepath.Join(m.mnt, name))
	if err != nil {
		t.Fatal(err)
	}
	preadAll(t, f, first, 1, "first content")
	f.Close()

	// Another size and an mtime two seconds later make the change visible
	// to the check at open.
	second := randomContent(readAroundSize+4096, 6)
	path := filepath.Join(m.remote, name)
	if err := os.WriteFile(path, second, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	f, err = os.Open(filepath.Join(m.mnt, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	preadAll(t, f, second, 2, "content replaced on the server")
}

// TestReadAroundYieldsToWriter reads a file at random through one
// descriptor and then writes through a second one. The first descriptor
// must read the written bytes and every other page unchanged, because
// bytes stored from earlier reads must not replace a local write.
func TestReadAroundYieldsToWriter(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	name := "shared.bin"
	m, want := mountWithRandomFile(t, name, 7)
	r, err := os.Open(filepath.Join(m.mnt, name))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Half of the pages, in a random order, to leave stores in flight.
	buf := make([]byte, 4096)
	for i, page := range rand.New(rand.NewPCG(3, 3)).Perm(len(want) / 4096) {
		if i == len(want)/8192 {
			break
		}
		if _, err := r.ReadAt(buf, int64(page)*4096); err != nil {
			t.Fatal(err)
		}
	}

	w, err := os.OpenFile(filepath.Join(m.mnt, name), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := bytes.Repeat([]byte("local write "), 1000)
	for _, off := range []int64{0, 100_000, 3_000_001, readAroundSize - int64(len(patch))} {
		if _, err := w.WriteAt(patch, off); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], patch)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	preadAll(t, r, want, 4, "after a local write")

	got, err := os.ReadFile(filepath.Join(m.remote, name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the server's file differs from the bytes written through the mount")
	}
}

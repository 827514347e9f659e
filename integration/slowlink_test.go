package integration

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// slowLinkFileSize is larger than the bytes after which a sequential
// transfer opens more handles of its file on the pool's other connections.
const slowLinkFileSize = 32 << 20

// TestSlowLinkSpreadsTransfers mounts through a proxy that delays every
// chunk by 2 ms in each direction, a round trip at which gosshfs spreads a
// large sequential write or read over the connections of its pool. It
// checks that the server had the file open in more than one SFTP session
// during each transfer, and that the bytes are right on both ends.
func TestSlowLinkSpreadsTransfers(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	remote := scratchDir(t, "remote")
	p := startProxy(t, fullServer)
	p.SetDelay(2 * time.Millisecond)
	m := mountRemoteDir(t, viaProxy(t, fullServer, p), remote, faultOptions...)

	// Write through the mount.
	written := filepath.Join(remote, "written")
	f, err := os.Create(filepath.Join(m.mnt, "written"))
	if err != nil {
		t.Fatal(err)
	}
	source := rand.NewChaCha8(seedBytes(3))
	h := sha256.New()
	buf := make([]byte, 1<<20)
	openers := 0
	for n := 0; n < slowLinkFileSize; n += len(buf) {
		source.Read(buf)
		h.Write(buf)
		if _, err := f.Write(buf); err != nil {
			f.Close()
			t.Fatalf("write at offset %d: %v", n, err)
		}
		if n == slowLinkFileSize/2 {
			openers = serverOpeners(written)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if openers < 2 {
		t.Errorf("%d server processes had the file open halfway through the write, want at least 2", openers)
	}
	got, size, err := fileSHA256(written)
	if err != nil {
		t.Fatal(err)
	}
	if size != slowLinkFileSize || got != [sha256.Size]byte(h.Sum(nil)) {
		t.Errorf("the server's file has %d bytes and SHA-256 %x, want %d bytes and %x",
			size, got, slowLinkFileSize, h.Sum(nil))
	}

	// Read through the mount a file written on the server, which the
	// kernel has no pages of.
	onServer := filepath.Join(remote, "server")
	want := randomFile(t, onServer, slowLinkFileSize, 4)
	r, err := os.Open(filepath.Join(m.mnt, "server"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h.Reset()
	openers = 0
	var read int64
	for {
		n, err := r.Read(buf)
		h.Write(buf[:n])
		read += int64(n)
		if read >= slowLinkFileSize/2 && openers == 0 {
			openers = serverOpeners(onServer)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read at offset %d: %v", read, err)
		}
	}
	if openers < 2 {
		t.Errorf("%d server processes had the file open halfway through the read, want at least 2", openers)
	}
	if read != slowLinkFileSize || [sha256.Size]byte(h.Sum(nil)) != want {
		t.Errorf("read %d bytes with SHA-256 %x through the mount, want %d bytes and %x",
			read, h.Sum(nil), slowLinkFileSize, want)
	}
}

// serverOpeners counts the processes that have path open, found through
// their /proc/PID/fd links.
func serverOpeners(path string) int {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	count := 0
	for _, proc := range procs {
		if _, err := strconv.Atoi(proc.Name()); err != nil {
			continue
		}
		dir := filepath.Join("/proc", proc.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == path {
				count++
				break
			}
		}
	}
	return count
}

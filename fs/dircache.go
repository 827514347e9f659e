package fs

import (
	"context"
	"hash/fnv"
	"strconv"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The kernel can keep a directory's readdir output in its page cache
// (FOPEN_CACHE_DIR), which makes a repeated ls -R cost no request at all.
// OpendirHandle allows that only while the cached listing equals what the
// kernel stored. Each node keeps a signature of the entries it handed to
// the kernel's cache. A directory whose listing changed has its kernel
// cache dropped before it is filled again.

// dirHandle is an open directory: it lists the node on its first read.
type dirHandle struct {
	node   *Node
	stream gofs.DirStream
	// entries and sig are the listing opendir fetched and its signature;
	// the first read serves them instead of listing again. listed is false
	// when opendir did not list.
	entries []cacheEntry
	sig     uint64
	listed  bool
}

var (
	_ gofs.NodeOpendirHandler = (*Node)(nil)
	_ gofs.FileReaddirenter   = (*dirHandle)(nil)
	_ gofs.FileSeekdirer      = (*dirHandle)(nil)
	_ gofs.FileReleasedirer   = (*dirHandle)(nil)
)

// OpendirHandle lets the kernel serve readdir from its cache when the
// listing, from the metadata cache or fetched now, has the signature of
// the entries the kernel's cache was filled with.
func (n *Node) OpendirHandle(ctx context.Context, flags uint32) (_ gofs.FileHandle, fuseFlags uint32, errno syscall.Errno) {
	p, _ := n.path()
	defer n.fs.trace(ctx, "opendir", p, time.Now(), &errno)
	if n.fs.kernelTimeout <= 0 {
		return &dirHandle{node: n}, 0, 0
	}

	entries, errno := n.list(ctx, p)
	if errno != 0 {
		return nil, 0, errno
	}
	sig := n.signature(entries)
	n.mu.Lock()
	keep := n.dirFilled && n.dirSig == sig
	filled := n.dirFilled
	n.mu.Unlock()
	if !keep && filled {
		// Whatever the kernel cached describes another listing.
		n.NotifyContent(0, 0)
	}
	h := &dirHandle{node: n, entries: entries, sig: sig, listed: true}
	return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// signature hashes the names and types a readdir of the listing returns.
//
// NOTE: inode numbers are left out because they are assigned at lookup. A
// name removed and made again with the same type on the server can
// therefore show its old d_ino from the kernel's cache until the listing
// changes otherwise. stat shows the new number.
func (n *Node) signature(entries []cacheEntry) uint64 {
	h := fnv.New64a()
	for _, e := range entries {
		h.Write([]byte(e.Name))
		h.Write([]byte{0})
		h.Write(strconv.AppendUint(nil, uint64(e.Attr.Mode&syscall.S_IFMT), 10))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// open lists the directory on the first read and records the signature
// of what the kernel's cache receives.
func (d *dirHandle) open(ctx context.Context) syscall.Errno {
	if d.stream != nil {
		return 0
	}
	n := d.node
	p, _ := n.path()
	entries, sig := d.entries, d.sig
	if !d.listed {
		var errno syscall.Errno
		if entries, errno = n.list(ctx, p); errno != 0 {
			return errno
		}
		sig = n.signature(entries)
	}
	n.mu.Lock()
	n.dirSig, n.dirFilled = sig, true
	n.mu.Unlock()
	d.stream = n.dirStream(p, entries)
	return 0
}

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if errno := d.open(ctx); errno != 0 {
		return nil, errno
	}
	if !d.stream.HasNext() {
		return nil, 0
	}
	e, errno := d.stream.Next()
	return &e, errno
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if errno := d.open(ctx); errno != 0 {
		return errno
	}
	if sd, ok := d.stream.(gofs.FileSeekdirer); ok {
		return sd.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dirHandle) Releasedir(ctx context.Context, releaseFlags uint32) {
	if d.stream != nil {
		d.stream.Close()
	}
}

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
// kernel stored: each node remembers a signature of the entries it handed
// to the kernel's cache, and a directory whose listing changed has its
// kernel cache dropped before it is filled again.

// dirHandle is an open directory: it lists the node on its first read.
type dirHandle struct {
	node   *Node
	stream gofs.DirStream
}

var (
	_ gofs.NodeOpendirHandler = (*Node)(nil)
	_ gofs.FileReaddirenter   = (*dirHandle)(nil)
	_ gofs.FileSeekdirer      = (*dirHandle)(nil)
	_ gofs.FileReleasedirer   = (*dirHandle)(nil)
)

// OpendirHandle lets the kernel serve readdir from its cache when the
// metadata cache holds a fresh listing with the signature the kernel's
// cache was filled with.
func (n *Node) OpendirHandle(ctx context.Context, flags uint32) (_ gofs.FileHandle, fuseFlags uint32, errno syscall.Errno) {
	p, _ := n.path()
	defer n.fs.trace(ctx, "opendir", p, time.Now(), &errno)
	h := &dirHandle{node: n}

	entries, ok := n.fs.meta.GetDir(p)
	if !ok {
		// The kernel may not use what it cached before: the listing is
		// fetched again, and it may differ.
		n.mu.Lock()
		n.dirSig = 0
		n.mu.Unlock()
		return h, 0, 0
	}

	sig := n.signature(entries)
	n.mu.Lock()
	keep := n.dirSig == sig
	n.dirSig = sig
	n.mu.Unlock()
	if !keep {
		// Whatever the kernel cached describes another listing.
		n.NotifyContent(0, 0)
	}
	return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// signature hashes the names, types and inode numbers a readdir of the
// listing returns. 0 means none, so a hash of 0 is made 1.
func (n *Node) signature(entries []cacheEntry) uint64 {
	h := fnv.New64a()
	for _, e := range entries {
		h.Write([]byte(e.Name))
		mode := e.Attr.Mode & syscall.S_IFMT
		var ino uint64
		if ch := n.GetChild(e.Name); ch != nil && ch.StableAttr().Mode == mode {
			ino = ch.StableAttr().Ino
		}
		h.Write([]byte{0})
		h.Write(strconv.AppendUint(strconv.AppendUint(nil, uint64(mode), 10), ino, 10))
		h.Write([]byte{0})
	}
	if s := h.Sum64(); s != 0 {
		return s
	}
	return 1
}

func (d *dirHandle) open(ctx context.Context) syscall.Errno {
	if d.stream != nil {
		return 0
	}
	stream, errno := d.node.Readdir(ctx)
	if errno != 0 {
		return errno
	}
	d.stream = stream
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

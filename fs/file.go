package fs

import (
	"context"
	"path"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// dataSettle is how long after a file's mtime its cached data is distrusted:
// SFTP version 3 mtimes have one-second resolution, so a same-size rewrite
// within the same second leaves size and mtime unchanged.
const dataSettle = 2 * time.Second

// peerThreshold is how many bytes a handle reads or writes before its
// transfers are spread over the other connections of the pool.
const peerThreshold = 4 << 20

// Handle is an open file.
type Handle struct {
	node  *Node
	file  *remote.File
	flags uint32

	// prefetch reads ahead for sequential readers; nil for write-only
	// handles.
	prefetch *prefetcher
	// data, when file is nil, is the whole content of a small file fetched
	// ahead; such a handle is read-only and has no remote handle.
	data []byte

	// synthetic is set when the node's attributes were made up at create
	// time; flush then makes the kernel fetch the server's values.
	synthetic bool

	// written counts the bytes written through the handle.
	written atomic.Int64

	mu sync.Mutex // guards wrote
	// wrote is set by the first write; the node's cached attributes and
	// data state are dropped at flush.
	wrote bool
}

// The go-fuse file interfaces Handle implements.
var (
	_ gofs.FileReader   = (*Handle)(nil)
	_ gofs.FileWriter   = (*Handle)(nil)
	_ gofs.FileFlusher  = (*Handle)(nil)
	_ gofs.FileFsyncer  = (*Handle)(nil)
	_ gofs.FileReleaser = (*Handle)(nil)
)

func newHandle(n *Node, f *remote.File, flags uint32, size uint64) *Handle {
	h := &Handle{node: n, file: f, flags: flags}
	if flags&syscall.O_ACCMODE != syscall.O_WRONLY {
		h.prefetch = newPrefetcher(f, n.fs.readAhead, int64(size), n.fs.client.PoolSize())
		h.prefetch.around = n
		h.prefetch.policy = n.fs.around
	}
	f.SetLocator(n.path)
	return h
}

// Open opens the remote file and revalidates the node's attributes with the
// server: the kernel's page cache is kept only when the file is unchanged
// since it was cached.
func (n *Node) Open(ctx context.Context, flags uint32) (_ gofs.FileHandle, fuseFlags uint32, errno syscall.Errno) {
	p, ok := n.path()
	defer n.fs.trace(ctx, "open", p, time.Now(), &errno)
	if !ok {
		return nil, 0, syscall.ENOENT
	}

	// Writes still in flight through other handles would be missing from
	// the size seen below, and reads are clipped to that size.
	n.waitWrites()

	readOnly := flags&syscall.O_ACCMODE == syscall.O_RDONLY && flags&syscall.O_TRUNC == 0
	if readOnly {
		dir, name := path.Split(p)
		defer n.fs.siblings.ahead(path.Clean(dir), name)
		if h, fuseFlags, errno, ok := n.openPrefetched(ctx, p, flags); ok {
			return h, fuseFlags, errno
		}
	}

	oflags := openFlags(flags) | int(flags&syscall.O_TRUNC)
	type statResult struct {
		a   remote.Attr
		err error
	}
	statDone := make(chan statResult, 1)
	go func() {
		a, err := n.fs.client.Lstat(ctx, p)
		statDone <- statResult{a, err}
	}()
	file, err := n.fs.client.Open(ctx, p, oflags)
	st := <-statDone
	if err != nil {
		n.fs.meta.DropAttr(p)
		return nil, 0, goneErrno(toErrno(err))
	}
	if st.err == nil && st.a.IsSymlink() {
		// SFTP opens follow symlinks and have no O_NOFOLLOW: a symlink
		// that replaced the file since the lookup is refused, not followed.
		file.Close(ctx)
		n.fs.meta.DropAttr(p)
		return nil, 0, syscall.ELOOP
	}
	if flags&syscall.O_TRUNC != 0 {
		st.a, st.err = file.Stat(ctx)
	}
	if st.err != nil {
		file.Close(ctx)
		return nil, 0, toErrno(st.err)
	}

	n.fs.meta.PutAttr(p, st.a)
	h := newHandle(n, file, flags, st.a.Size)
	n.addHandle(h)
	if n.keepCache(st.a) {
		fuseFlags |= fuse.FOPEN_KEEP_CACHE
	} else if !n.kernelHas(st.a) {
		// The kernel's attributes may be stale too: a grown file would be
		// read only up to its old size.
		n.NotifyContent(-1, 0)
	}
	return h, fuseFlags, 0
}

// goneErrno turns ENOENT at open into ESTALE. The kernel opens a name it
// still has cached without a lookup. When the file is gone from the
// server, ESTALE makes the kernel look the name up again and repeat the
// open. Open with O_CREAT then creates the file and a plain open fails
// with ENOENT, as on a local file system.
func goneErrno(errno syscall.Errno) syscall.Errno {
	if errno == syscall.ENOENT {
		return syscall.ESTALE
	}
	return errno
}

// openPrefetched opens p from content fetched ahead by siblingCache, after
// a stat confirms it is current. ok is false when there is no such
// content or it is stale; the caller then opens the file on the server.
func (n *Node) openPrefetched(ctx context.Context, p string, flags uint32) (_ gofs.FileHandle, fuseFlags uint32, errno syscall.Errno, ok bool) {
	c := n.fs.siblings.take(p)
	if c == nil {
		return nil, 0, 0, false
	}
	a, err := n.fs.client.Lstat(ctx, p)
	if err != nil {
		n.fs.meta.DropAttr(p)
		return nil, 0, goneErrno(toErrno(err)), true
	}
	n.fs.meta.PutAttr(p, a)
	<-c.done
	if !c.usable(a) {
		return nil, 0, 0, false
	}
	h := &Handle{node: n, flags: flags, data: c.data}
	n.addHandle(h)
	if n.keepCache(a) {
		fuseFlags |= fuse.FOPEN_KEEP_CACHE
	} else if !n.kernelHas(a) {
		n.NotifyContent(-1, 0)
	}
	return h, fuseFlags, 0, true
}

// keepCache decides at open whether the page cache may be kept, and
// records a as the state of the data cached from now on.
func (n *Node) keepCache(a remote.Attr) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	keep := n.dataValid && n.dataSize == a.Size && n.dataMtime == a.Mtime &&
		n.dataCachedAt.Sub(time.Unix(int64(a.Mtime), 0)) > dataSettle
	if !keep {
		n.dataSize, n.dataMtime, n.dataCachedAt, n.dataValid = a.Size, a.Mtime, time.Now(), true
	}
	return keep
}

// markDataCached records that the kernel's page cache matches a.
func (n *Node) markDataCached(a remote.Attr) {
	n.mu.Lock()
	n.dataSize, n.dataMtime, n.dataCachedAt, n.dataValid = a.Size, a.Mtime, time.Now(), true
	n.mu.Unlock()
}

// wrote updates the cached attributes after a write that ends at end: the
// size grows to end and the mtime becomes the local time, an estimate
// until flush fetches the server's values.
func (n *Node) wrote(end int64) {
	n.mu.Lock()
	n.kernelKnown, n.kernelExact = false, false
	n.mu.Unlock()
	p, ok := n.path()
	if !ok {
		return
	}
	n.fs.lister.changed(path.Dir(p))
	a, state := n.fs.meta.GetAttr(p)
	if state != cacheHit {
		return
	}
	a.Size = max(a.Size, uint64(end))
	a.Mtime = uint32(time.Now().Unix())
	n.fs.meta.PutAttr(p, a)
}

// changedLocally drops what is known about the node's attributes after
// this mount changed its content.
func (n *Node) changedLocally() {
	if p, ok := n.path(); ok {
		n.fs.lister.changed(path.Dir(p))
		n.fs.meta.DropAttr(p)
	}
	n.mu.Lock()
	n.dataValid = false
	n.kernelKnown, n.kernelExact = false, false
	n.mu.Unlock()
}

func (h *Handle) Read(ctx context.Context, dest []byte, off int64) (_ fuse.ReadResult, errno syscall.Errno) {
	if h.node.fs.opts.Debug {
		p, _ := h.node.path()
		defer h.node.fs.trace(ctx, "read", p, time.Now(), &errno)
	}
	if h.file == nil {
		if off >= int64(len(h.data)) {
			return fuse.ReadResultData(nil), 0
		}
		return fuse.ReadResultData(h.data[off:min(int64(len(h.data)), off+int64(len(dest)))]), 0
	}
	h.node.waitWrites()
	var n int
	var err error
	if h.prefetch != nil {
		var data []byte
		data, n, err = h.prefetch.read(ctx, dest, off)
		if data != nil {
			return fuse.ReadResultData(data), 0
		}
	} else {
		n, err = h.file.ReadAt(ctx, dest, off)
	}
	if err != nil {
		return nil, toErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write queues the data and returns before the server acknowledges it; an
// error of an earlier write of this handle is returned instead. Flush,
// fsync and close wait for every acknowledgement.
func (h *Handle) Write(ctx context.Context, data []byte, off int64) (_ uint32, errno syscall.Errno) {
	if h.file == nil {
		return 0, syscall.EBADF
	}
	h.mu.Lock()
	first := !h.wrote
	h.wrote = true
	h.mu.Unlock()
	if first {
		h.node.mu.Lock()
		h.node.dataValid = false
		h.node.mu.Unlock()
	}
	h.node.wrote(off + int64(len(data)))
	h.node.dropReadAhead(-1)
	h.node.growReadAhead(off + int64(len(data)))
	if h.written.Add(int64(len(data))) > peerThreshold {
		h.file.OpenPeers(ctx, h.node.fs.client.PoolSize())
	}
	n, err := h.file.WriteBehind(ctx, data, off)
	if err != nil {
		return 0, toErrno(err)
	}
	return uint32(n), 0
}

// Flush returns once every write of the handle is acknowledged by the
// server, with a write error that no earlier flush reported. The kernel
// flushes at every close of a descriptor, including one inherited by a
// forked child, so fsync keeps its own account of reported errors.
func (h *Handle) Flush(ctx context.Context) (errno syscall.Errno) {
	h.mu.Lock()
	wrote := h.wrote
	synthetic := h.synthetic
	h.synthetic = false
	h.mu.Unlock()
	if !wrote && !synthetic {
		return 0
	}
	p, _ := h.node.path()
	defer h.node.fs.trace(ctx, "flush", p, time.Now(), &errno)
	err := h.file.WaitWrites(callerTID(ctx))
	// Sizes and times tracked while writing are estimates: drop them here
	// and in the kernel, so the next stat shows the server's values.
	h.node.mu.Lock()
	exact := h.node.kernelExact
	h.node.mu.Unlock()
	h.node.changedLocally()
	if !exact {
		h.node.NotifyContent(-1, 0)
	}
	return toErrno(err)
}

func (h *Handle) Fsync(ctx context.Context, flags uint32) (errno syscall.Errno) {
	if h.file == nil {
		return 0
	}
	p, _ := h.node.path()
	defer h.node.fs.trace(ctx, "fsync", p, time.Now(), &errno)
	return toErrno(h.file.Sync(ctx, callerTID(ctx)))
}

// Release closes the remote handle without making the caller wait: flush
// already waited for every write.
func (h *Handle) Release(ctx context.Context) (errno syscall.Errno) {
	if h.node.fs.opts.Debug {
		p, _ := h.node.path()
		defer h.node.fs.trace(ctx, "release", p, time.Now(), &errno)
	}
	h.node.removeHandle(h)
	if h.file == nil {
		return 0
	}
	if h.prefetch != nil {
		h.prefetch.close()
	}
	go func() {
		if err := h.file.Close(context.Background()); err != nil {
			p, _ := h.node.path()
			h.node.fs.log.Warn("close failed", "path", p, "err", err)
		}
	}()
	return 0
}

// callerTID returns the thread that made a FUSE request, or 0.
func callerTID(ctx context.Context) uint32 {
	if fc, ok := ctx.(*fuse.Context); ok {
		return fc.Pid
	}
	return 0
}

// soleHandle returns the node's only open handle, or nil when it has none
// or several.
func (n *Node) soleHandle() *Handle {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.handles) != 1 {
		return nil
	}
	for h := range n.handles {
		return h
	}
	return nil
}

// waitWrites blocks until no write of any handle of the node is in
// flight, so that reads and attributes from the server include them.
func (n *Node) waitWrites() {
	n.mu.Lock()
	handles := make([]*Handle, 0, len(n.handles))
	for h := range n.handles {
		handles = append(handles, h)
	}
	n.mu.Unlock()
	for _, h := range handles {
		if h.file != nil {
			h.file.WaitQuiet()
		}
	}
}

// growReadAhead raises the file size the node's read-ahead assumes to end,
// after a write that ends there.
func (n *Node) growReadAhead(end int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.handles {
		if h.prefetch != nil {
			h.prefetch.grow(end)
		}
	}
}

// dropReadAhead discards the read-ahead data of every handle of the node
// after a write or truncate. size is the new file size, or -1 to keep it.
func (n *Node) dropReadAhead(size int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.handles {
		if h.prefetch != nil {
			h.prefetch.invalidate(size)
		}
	}
}

// Fsync without a handle happens for fsync on a directory or a file opened
// elsewhere; there is nothing buffered to send.
func (n *Node) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	if h, ok := fh.(*Handle); ok {
		return h.Fsync(ctx, flags)
	}
	return 0
}

// Allocate extends the file for mode 0, as posix_fallocate does, by
// setting its size; SFTP cannot reserve disk space, so the new range is a
// hole on servers whose file systems support them. FALLOC_FL_KEEP_SIZE
// succeeds without change. Other modes (punching holes, collapsing or
// zeroing ranges) fail with EOPNOTSUPP.
func (n *Node) Allocate(ctx context.Context, fh gofs.FileHandle, off, size uint64, mode uint32) (errno syscall.Errno) {
	const keepSize = 0x1
	p, _ := n.path()
	defer n.fs.trace(ctx, "fallocate", p, time.Now(), &errno)
	switch mode {
	case keepSize:
		return 0
	case 0:
	default:
		return syscall.EOPNOTSUPP
	}
	h, ok := fh.(*Handle)
	if !ok {
		return syscall.EBADF
	}
	a, err := h.file.Stat(ctx)
	if err != nil {
		return toErrno(err)
	}
	if off+size <= a.Size {
		return 0
	}
	n.dropReadAhead(int64(off + size))
	n.changedLocally()
	return toErrno(h.file.Truncate(ctx, off+size))
}

package fs

import (
	"context"
	"path"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// Node is one file, directory or symlink of the mount.
type Node struct {
	gofs.Inode
	fs *filesystem

	mu sync.Mutex // guards the fields below
	// handles are the node's open files, used to serve getattr for a
	// node whose name was removed while it is open.
	handles map[*Handle]struct{}
	// links counts the names this mount has seen for the node: hard links
	// made here add one, unlink and rename-over remove one.
	links uint32
	// last is the latest attributes seen, for an unlinked node without
	// open handles.
	last remote.Attr
	// dataSize and dataMtime describe the file when the kernel's page
	// cache for it was filled, at dataCachedAt. dataValid is set while the
	// page cache may be kept at the next open.
	dataSize     uint64
	dataMtime    uint32
	dataCachedAt time.Time
	dataValid    bool
	// kernelSize and kernelMtime are what the last lookup or getattr reply
	// gave the kernel, while kernelKnown is set. A change made through the
	// mount clears kernelKnown.
	kernelSize  uint64
	kernelMtime uint32
	kernelKnown bool
	// kernelExact is set while the kernel's size and mtime came from a time
	// change ordered after the writes. They are then the server's values
	// once those writes are applied, so flush need not drop them.
	kernelExact bool
	// pageGen changes whenever bytes stored in the kernel's page cache
	// from an earlier read could be stale: at each open and each size
	// change. storing counts the stores in progress, and storesDone is
	// signalled when it drops to zero.
	pageGen    uint64
	storing    int
	storesDone sync.Cond
	// dirSig is the signature of the listing the kernel's readdir cache
	// was last filled with, and dirFilled whether it was filled at all.
	dirSig    uint64
	dirFilled bool
}

// The go-fuse interfaces Node implements.
var (
	_ gofs.NodeLookuper   = (*Node)(nil)
	_ gofs.NodeGetattrer  = (*Node)(nil)
	_ gofs.NodeSetattrer  = (*Node)(nil)
	_ gofs.NodeReaddirer  = (*Node)(nil)
	_ gofs.NodeOpener     = (*Node)(nil)
	_ gofs.NodeCreater    = (*Node)(nil)
	_ gofs.NodeMkdirer    = (*Node)(nil)
	_ gofs.NodeRmdirer    = (*Node)(nil)
	_ gofs.NodeUnlinker   = (*Node)(nil)
	_ gofs.NodeRenamer    = (*Node)(nil)
	_ gofs.NodeSymlinker  = (*Node)(nil)
	_ gofs.NodeReadlinker = (*Node)(nil)
	_ gofs.NodeLinker     = (*Node)(nil)
	_ gofs.NodeStatfser   = (*Node)(nil)
	_ gofs.NodeFsyncer    = (*Node)(nil)
	_ gofs.NodeMknoder    = (*Node)(nil)
	_ gofs.NodeAllocater  = (*Node)(nil)
)

// path returns the node's remote path, and false when the node has no
// name any more.
func (n *Node) path() (string, bool) {
	if n.IsRoot() {
		return n.fs.opts.RemoteDir, true
	}
	name, parent := n.Parent()
	if parent == nil {
		return "", false
	}
	rel := n.Path(n.Root())
	_ = name
	return n.fs.remotePath(rel), true
}

func (n *Node) childPath(name string) string {
	p, _ := n.path()
	return path.Join(p, name)
}

// child returns the node for name with attributes a, reusing the existing
// child when the file type is unchanged so that its inode number stays.
func (n *Node) child(ctx context.Context, name string, a remote.Attr) *gofs.Inode {
	typ := a.Mode & syscall.S_IFMT
	if old := n.GetChild(name); old != nil && old.StableAttr().Mode == typ {
		if on, ok := old.Operations().(*Node); ok {
			on.setLast(a)
		}
		return old
	}
	ch := &Node{fs: n.fs, links: 1, last: a}
	ino := n.fs.nextIno.Add(1)
	return n.NewInode(ctx, ch, gofs.StableAttr{Mode: typ, Ino: ino})
}

func (n *Node) setLast(a remote.Attr) {
	n.mu.Lock()
	n.last = a
	n.mu.Unlock()
}

// gaveKernel records the size and mtime of a reply to the kernel.
func (n *Node) gaveKernel(a remote.Attr) {
	n.mu.Lock()
	n.kernelSize, n.kernelMtime, n.kernelKnown = a.Size, a.Mtime, true
	n.kernelExact = false
	n.mu.Unlock()
}

// kernelHas reports whether the kernel was given a's size and mtime and
// nothing changed through the mount since.
func (n *Node) kernelHas(a remote.Attr) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.kernelKnown && n.kernelSize == a.Size && n.kernelMtime == a.Mtime
}

func (n *Node) nlink() uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links
}

// entryOut fills out for a child with attributes a.
func (n *Node) entryOut(ch *gofs.Inode, a remote.Attr, out *fuse.EntryOut) {
	nlink := uint32(1)
	if cn, ok := ch.Operations().(*Node); ok {
		nlink = cn.nlink()
		cn.gaveKernel(a)
	}
	n.fs.fillAttr(a, nlink, &out.Attr)
	out.SetEntryTimeout(n.fs.kernelTimeout)
	out.SetAttrTimeout(n.fs.kernelTimeout)
}

// Lookup replies from the metadata cache, including a cached complete
// listing that lacks the name, before it asks the server.
func (n *Node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (_ *gofs.Inode, errno syscall.Errno) {
	dir, _ := n.path()
	p := path.Join(dir, name)
	defer n.fs.trace(ctx, "lookup", p, time.Now(), &errno)
	if e := checkName(name); e != 0 {
		return nil, e
	}

	// A name missing from a cached listing may have been created on the
	// server since, so only a negative entry of the name itself, from a
	// lookup that reached the server, gives ENOENT without a round trip.
	// The exception is a call that creates the name in a directory this
	// mount made and has not listed since, because the create checks the
	// name on the server anyway.
	a, state := n.fs.meta.GetAttr(p)
	if state == cacheMiss {
		switch la, ls := n.fs.meta.LookupChild(dir, name); ls {
		case cacheHit:
			a, state = la, ls
		case cacheUnlisted:
			if creating(ctx, path.Join("/", n.Path(n.Root()), name)) {
				return nil, syscall.ENOENT
			}
		}
	}
	if state == cacheMiss {
		if ls := n.fs.lister.pending(dir); ls != nil {
			// A listing of the directory is in flight: it brings the
			// attributes of every name it finds.
			<-ls.done
		} else {
			// The first miss in a directory lists it in the background,
			// so later lookups there (git status, a build) find it cached.
			n.fs.lister.ahead(dir)
		}
		if la, ls := n.fs.meta.LookupChild(dir, name); ls == cacheHit {
			a, state = la, ls
		}
	}
	switch state {
	case cacheNegative:
		return nil, syscall.ENOENT
	case cacheMiss:
		var err error
		a, err = n.fs.client.Lstat(ctx, p)
		if err != nil {
			errno = toErrno(err)
			if errno == syscall.ENOENT {
				n.fs.meta.PutNegative(p)
			}
			return nil, errno
		}
		n.fs.meta.PutAttr(p, a)
	}
	if errno := n.fs.checkOwner(a); errno != 0 {
		return nil, errno
	}

	ch := n.child(ctx, name, a)
	n.entryOut(ch, a, out)
	return ch, 0
}

// attr returns the node's current attributes: from the cache, from the
// server, or through an open handle when the node has no name.
func (n *Node) attr(ctx context.Context) (remote.Attr, syscall.Errno) {
	p, ok := n.path()
	if !ok {
		if h := n.anyHandle(); h != nil {
			a, err := h.file.Stat(ctx)
			if err == nil {
				n.setLast(a)
				return a, 0
			}
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.last, 0
	}
	if a, state := n.fs.meta.GetAttr(p); state == cacheHit {
		return a, 0
	}
	n.waitWrites()
	var a remote.Attr
	var err error
	if n.IsRoot() {
		a, err = n.fs.client.Stat(ctx, p)
	} else {
		a, err = n.fs.client.Lstat(ctx, p)
	}
	if err != nil {
		return remote.Attr{}, toErrno(err)
	}
	n.fs.meta.PutAttr(p, a)
	n.setLast(a)
	return a, 0
}

func (n *Node) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) (errno syscall.Errno) {
	p, _ := n.path()
	defer n.fs.trace(ctx, "getattr", p, time.Now(), &errno)
	a, errno := n.attr(ctx)
	if errno != 0 {
		return errno
	}
	if errno := n.fs.checkOwner(a); errno != 0 {
		return errno
	}
	// Open handles read a file grown on the server to its new end once
	// the kernel has the new size (tail -f).
	n.growReadAhead(int64(a.Size))
	n.gaveKernel(a)
	n.fs.fillAttr(a, n.nlink(), &out.Attr)
	out.SetTimeout(n.fs.kernelTimeout)
	return 0
}

// anyHandle returns an open handle of the node that has a remote file,
// or nil.
func (n *Node) anyHandle() *Handle {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.handles {
		if h.file != nil {
			return h
		}
	}
	return nil
}

// addHandle records an open handle. It also ends the page cache stores of
// reads made before this open: the open may have found the file changed,
// and a writable handle lets the kernel change cached pages itself.
func (n *Node) addHandle(h *Handle) {
	n.mu.Lock()
	if n.handles == nil {
		n.handles = make(map[*Handle]struct{})
	}
	n.handles[h] = struct{}{}
	n.stopStoresLocked()
	n.mu.Unlock()
}

// stopStoresLocked makes stores of earlier reads skip and waits for those
// in progress. n.mu is held.
func (n *Node) stopStoresLocked() {
	n.pageGen++
	if n.storesDone.L == nil {
		n.storesDone.L = &n.mu
	}
	for n.storing > 0 {
		n.storesDone.Wait()
	}
}

func (n *Node) storeGen() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pageGen
}

// storeAround puts data, read from the server at off, into the kernel's
// page cache, unless an open or a size change came after gen was taken or
// a handle open for writing exists. The kernel could otherwise hold bytes
// older than the server's or than a local write.
func (n *Node) storeAround(gen uint64, off int64, data []byte) {
	n.mu.Lock()
	if n.pageGen != gen {
		n.mu.Unlock()
		return
	}
	for h := range n.handles {
		if h.flags&syscall.O_ACCMODE != syscall.O_RDONLY {
			n.mu.Unlock()
			return
		}
	}
	n.storing++
	n.mu.Unlock()

	if errno := n.WriteCache(off, data); errno != 0 {
		p, _ := n.path()
		n.fs.log.Debug("page cache store failed", "path", p, "offset", off, "bytes", len(data), "errno", errno)
	}

	n.mu.Lock()
	n.storing--
	if n.storing == 0 && n.storesDone.L != nil {
		n.storesDone.Broadcast()
	}
	n.mu.Unlock()
}

func (n *Node) removeHandle(h *Handle) {
	n.mu.Lock()
	delete(n.handles, h)
	n.mu.Unlock()
}

// unlinked records that one name of the node was removed. Once no name is
// left, its open handles can no longer be reopened by path after a
// reconnect.
func (n *Node) unlinked() {
	n.mu.Lock()
	if n.links > 0 {
		n.links--
	}
	n.dataValid = false
	n.mu.Unlock()
}

func (n *Node) Readdir(ctx context.Context) (_ gofs.DirStream, errno syscall.Errno) {
	p, _ := n.path()
	defer n.fs.trace(ctx, "readdir", p, time.Now(), &errno)
	entries, errno := n.list(ctx, p)
	if errno != 0 {
		return nil, errno
	}
	return n.dirStream(p, entries), 0
}

// dirStream returns the entries of directory p as readdir shows them, and
// lists its subdirectories ahead of the reader.
func (n *Node) dirStream(p string, entries []cacheEntry) gofs.DirStream {
	n.fs.lister.subdirsAhead(p, entries)
	out := make([]fuse.DirEntry, 0, len(entries)+2)
	// "." and ".." come first, as on local file systems; SFTP listings
	// include them too, but the cache keeps only real names.
	parentIno := n.StableAttr().Ino
	if _, parent := n.Parent(); parent != nil {
		parentIno = parent.StableAttr().Ino
	}
	out = append(out,
		fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: n.StableAttr().Ino},
		fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: parentIno})
	for _, e := range entries {
		de := fuse.DirEntry{Name: e.Name, Mode: e.Attr.Mode & syscall.S_IFMT}
		if ch := n.GetChild(e.Name); ch != nil && ch.StableAttr().Mode == de.Mode {
			de.Ino = ch.StableAttr().Ino
		}
		out = append(out, de)
	}
	return gofs.NewListDirStream(out)
}

// list returns the entries of directory p from the cache or the server.
func (n *Node) list(ctx context.Context, p string) ([]cacheEntry, syscall.Errno) {
	return n.fs.lister.list(ctx, p)
}

func (n *Node) Statfs(ctx context.Context, out *fuse.StatfsOut) (errno syscall.Errno) {
	p, _ := n.path()
	defer n.fs.trace(ctx, "statfs", p, time.Now(), &errno)
	st, err := n.fs.client.StatFS(ctx, p)
	if err != nil {
		if toErrno(err) != syscall.ENOTSUP {
			return toErrno(err)
		}
		// Without statvfs@openssh.com the size is unknown; report a
		// nominal 1 PiB, all free, so that tools checking free space go on.
		st = remote.StatFS{Bsize: 4096, Frsize: 4096, Blocks: 1 << 38, Bfree: 1 << 38, Bavail: 1 << 38,
			Files: 1 << 30, Ffree: 1 << 30, Favail: 1 << 30, Namemax: 255}
	}
	out.Bsize = uint32(st.Bsize)
	out.Frsize = uint32(st.Frsize)
	out.Blocks = st.Blocks
	out.Bfree = st.Bfree
	out.Bavail = st.Bavail
	out.Files = st.Files
	out.Ffree = st.Ffree
	out.NameLen = uint32(min(st.Namemax, 255))
	if out.NameLen == 0 {
		out.NameLen = 255
	}
	return 0
}

// Mknod creates regular files only: SFTP cannot create device nodes,
// FIFOs or sockets.
func (n *Node) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if mode&syscall.S_IFMT != syscall.S_IFREG && mode&syscall.S_IFMT != 0 {
		return nil, syscall.EPERM
	}
	ch, fh, _, errno := n.Create(ctx, name, syscall.O_WRONLY|syscall.O_EXCL, mode&0o7777, out)
	if errno != 0 {
		return nil, errno
	}
	if h, ok := fh.(*Handle); ok {
		h.Release(ctx)
	}
	return ch, 0
}

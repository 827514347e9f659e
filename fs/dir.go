package fs

import (
	"context"
	"path"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// created registers a child this mount just made, with attributes a: the
// directory's cached listing gains the name.
func (n *Node) created(ctx context.Context, name, p string, a remote.Attr, out *fuse.EntryOut) *gofs.Inode {
	n.fs.lister.changed(path.Dir(p))
	n.fs.meta.AddChild(p, a)
	ch := n.child(ctx, name, a)
	n.entryOut(ch, a, out)
	return ch
}

// createdAttr returns the attributes of an object this mount just created,
// without a round trip: the owner is the remote login, and the times are
// the local clock's, whole seconds. Tools that care (tar, cp -p, rsync)
// set the times next; flush and setattr drop these attributes so the
// server's own values are fetched afterwards.
func (f *filesystem) createdAttr(mode uint32, size uint64) remote.Attr {
	now := uint32(time.Now().Unix())
	return remote.Attr{Mode: mode, Size: size, UID: f.remoteUID, GID: f.remoteGID, Atime: now, Mtime: now}
}

func (n *Node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (_ *gofs.Inode, errno syscall.Errno) {
	p := n.childPath(name)
	defer n.fs.trace(ctx, "mkdir", p, time.Now(), &errno)
	if e := checkName(name); e != 0 {
		return nil, e
	}
	if err := n.fs.client.Mkdir(ctx, p, mode&0o7777); err != nil {
		n.fs.meta.DropAttr(p)
		return nil, toErrno(err)
	}
	ch := n.created(ctx, name, p, n.fs.createdAttr(syscall.S_IFDIR|mode&0o7777, 4096), out)
	n.fs.meta.PutMadeDir(p)
	return ch, 0
}

func (n *Node) Rmdir(ctx context.Context, name string) (errno syscall.Errno) {
	p := n.childPath(name)
	defer n.fs.trace(ctx, "rmdir", p, time.Now(), &errno)
	err := n.fs.client.Rmdir(ctx, p)
	if err != nil {
		n.fs.meta.InvalidateTree(p)
		return toErrno(err)
	}
	n.fs.lister.changed(path.Dir(p))
	n.fs.meta.RemoveTree(p)
	return 0
}

func (n *Node) Unlink(ctx context.Context, name string) (errno syscall.Errno) {
	p := n.childPath(name)
	defer n.fs.trace(ctx, "unlink", p, time.Now(), &errno)
	err := n.fs.client.Remove(ctx, p)
	if err != nil {
		n.fs.meta.Invalidate(p)
		return toErrno(err)
	}
	n.fs.lister.changed(path.Dir(p))
	n.fs.meta.RemoveTree(p)
	if ch := n.GetChild(name); ch != nil {
		if cn, ok := ch.Operations().(*Node); ok {
			cn.unlinked()
		}
	}
	return 0
}

func (n *Node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) (errno syscall.Errno) {
	from := n.childPath(name)
	np, ok := newParent.(*Node)
	if !ok {
		return syscall.EXDEV
	}
	to := np.childPath(newName)
	defer n.fs.trace(ctx, "rename", from+" -> "+to, time.Now(), &errno)
	if e := checkName(newName); e != 0 {
		return e
	}
	const renameNoReplace, renameExchange = 1, 2
	if flags&renameExchange != 0 {
		// SFTP has no atomic exchange.
		return syscall.EINVAL
	}

	moved, movedState := n.fs.meta.GetAttr(from)
	err := n.fs.client.Rename(ctx, from, to, flags&renameNoReplace == 0)
	if err != nil {
		n.fs.meta.InvalidateTree(from)
		n.fs.meta.InvalidateTree(to)
		return toErrno(err)
	}
	n.fs.lister.changed(path.Dir(from))
	n.fs.lister.changed(path.Dir(to))
	n.fs.meta.RemoveTree(from)
	n.fs.meta.RemoveTree(to)
	if movedState == cacheHit {
		n.fs.meta.AddChild(to, moved)
	} else {
		// The listing of the destination would lack the name.
		n.fs.meta.Invalidate(to)
	}
	if ch := np.GetChild(newName); ch != nil {
		if cn, ok := ch.Operations().(*Node); ok {
			cn.unlinked()
		}
	}
	return 0
}

func (n *Node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (_ *gofs.Inode, errno syscall.Errno) {
	p := n.childPath(name)
	defer n.fs.trace(ctx, "symlink", p, time.Now(), &errno)
	if e := checkName(name); e != 0 {
		return nil, e
	}
	if err := n.fs.client.Symlink(ctx, target, p); err != nil {
		n.fs.meta.DropAttr(p)
		return nil, toErrno(err)
	}
	return n.created(ctx, name, p, n.fs.createdAttr(syscall.S_IFLNK|0o777, uint64(len(target))), out), 0
}

func (n *Node) Readlink(ctx context.Context) (_ []byte, errno syscall.Errno) {
	p, _ := n.path()
	defer n.fs.trace(ctx, "readlink", p, time.Now(), &errno)
	target, err := n.fs.client.Readlink(ctx, p)
	if err != nil {
		return nil, toErrno(err)
	}
	if n.fs.opts.TransformSymlinks {
		target = transformSymlink(n.fs.opts.RemoteDir, path.Dir(p), target)
	}
	return []byte(target), 0
}

// transformSymlink rewrites an absolute target inside root as a path
// relative to dir, the directory holding the link, so that it resolves
// inside the mount.
func transformSymlink(root, dir, target string) string {
	if !path.IsAbs(target) {
		return target
	}
	clean := path.Clean(target)
	if clean != root && !strings.HasPrefix(clean, strings.TrimSuffix(root, "/")+"/") {
		return target
	}
	rel, ok := relPath(dir, clean)
	if !ok {
		return target
	}
	return rel
}

// relPath returns target relative to dir; both are clean absolute paths.
func relPath(dir, target string) (string, bool) {
	split := func(p string) []string {
		if p == "/" {
			return nil
		}
		return strings.Split(strings.TrimPrefix(p, "/"), "/")
	}
	d, t := split(dir), split(target)
	i := 0
	for i < len(d) && i < len(t) && d[i] == t[i] {
		i++
	}
	parts := make([]string, 0, len(d)-i+len(t)-i)
	for range d[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return ".", true
	}
	return strings.Join(parts, "/"), true
}

// Link makes a hard link and returns the target's own node, so both names
// show the same inode number.
func (n *Node) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (_ *gofs.Inode, errno syscall.Errno) {
	p := n.childPath(name)
	defer n.fs.trace(ctx, "link", p, time.Now(), &errno)
	if e := checkName(name); e != 0 {
		return nil, e
	}
	tn, ok := target.(*Node)
	if !ok {
		return nil, syscall.EXDEV
	}
	from, ok := tn.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	if err := n.fs.client.Link(ctx, from, p); err != nil {
		n.fs.meta.DropAttr(p)
		return nil, toErrno(err)
	}
	n.fs.meta.DropAttr(from)
	n.fs.lister.changed(path.Dir(p))
	a, err := n.fs.client.Lstat(ctx, p)
	if err != nil {
		return nil, toErrno(err)
	}
	tn.mu.Lock()
	if tn.links == 0 {
		tn.links = 1
	}
	tn.links++
	tn.last = a
	tn.mu.Unlock()
	n.fs.meta.AddChild(p, a)
	n.entryOut(tn.EmbeddedInode(), a, out)
	return tn.EmbeddedInode(), 0
}

func (n *Node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (_ *gofs.Inode, _ gofs.FileHandle, _ uint32, errno syscall.Errno) {
	p := n.childPath(name)
	defer n.fs.trace(ctx, "create", p, time.Now(), &errno)
	if e := checkName(name); e != 0 {
		return nil, nil, 0, e
	}

	oflags := openFlags(flags)
	file, err := n.fs.client.Create(ctx, p, oflags, mode&0o7777)
	existed := false
	if err != nil && toErrno(err) == syscall.EEXIST && flags&syscall.O_EXCL == 0 {
		// The name appeared since the kernel's lookup: open it as open(2)
		// with O_CREAT and without O_EXCL does.
		existed = true
		file, err = n.fs.client.Open(ctx, p, oflags|int(flags&syscall.O_TRUNC))
	}
	if err != nil {
		n.fs.meta.DropAttr(p)
		return nil, nil, 0, toErrno(err)
	}

	var a remote.Attr
	if existed {
		a, err = file.Stat(ctx)
		if err != nil {
			file.Close(ctx)
			return nil, nil, 0, toErrno(err)
		}
	} else if ca, ok := file.CreatedAttr(); ok {
		a = ca
	} else {
		a = n.fs.createdAttr(syscall.S_IFREG|mode&0o7777, 0)
	}
	ch := n.created(ctx, name, p, a, out)
	cn := ch.Operations().(*Node)
	h := newHandle(cn, file, flags, a.Size)
	h.synthetic = !existed
	cn.addHandle(h)
	cn.markDataCached(a)
	return ch, h, 0, 0
}

// openFlags converts open(2) flags to the os.O_* flags pkg/sftp takes.
func openFlags(flags uint32) int {
	var out int
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		out = syscall.O_RDONLY
	case syscall.O_WRONLY:
		out = syscall.O_WRONLY
	default:
		out = syscall.O_RDWR
	}
	if flags&syscall.O_APPEND != 0 {
		out |= syscall.O_APPEND
	}
	return out
}

package fs

import (
	"context"
	"errors"
	"path"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// Setattr applies size, mode, owner and times in that order. SFTP version 3
// sets owner and group together and both times together, so a change of
// one reads the other from the server first.
// On a symlink, owner and times
// change the link itself through lsetstat@openssh.com; servers without it
// leave the link unchanged and log the skipped change at debug level,
// because plain SETSTAT would change the link's target.
func (n *Node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) (errno syscall.Errno) {
	p, named := n.path()
	defer n.fs.trace(ctx, "setattr", p, time.Now(), &errno)
	h, _ := fh.(*Handle)
	if h != nil && h.file == nil {
		h = nil
	}
	if h == nil && !named {
		h = n.anyHandle()
	}
	if !named && h == nil {
		return syscall.ENOENT
	}
	symlink := n.StableAttr().Mode == syscall.S_IFLNK
	atime, aok := in.GetATime()
	mtime, mok := in.GetMTime()
	_, sizeSet := in.GetSize()
	_, modeSet := in.GetMode()
	_, uidSet := in.GetUID()
	_, gidSet := in.GetGID()
	onlyTimes := !sizeSet && !modeSet && !uidSet && !gidSet
	// A time change through the node's only handle is ordered after that
	// handle's writes on the server instead of waiting for them. An
	// omitted atime is the one the server gave the file at create: writes
	// leave it alone.
	// utimensat(2) on a descriptor reaches here without the handle.
	sole := n.soleHandle()
	oh := h
	if oh == nil {
		oh = sole
	}
	ordered := oh != nil && oh == sole && oh.file != nil && named && !symlink && mok && onlyTimes
	if ordered && !aok {
		if ca, ok := oh.file.CreatedAttr(); ok {
			atime, aok = time.Unix(int64(ca.Atime), 0), true
		} else {
			ordered = false
		}
	}
	// An omitted atime is read from the server while the writes, which
	// do not change it, finish.
	var cur chan otherResult
	if !ordered && named && mok && !aok && onlyTimes {
		cur = make(chan otherResult, 1)
		go func() {
			a, err := n.other(ctx, p)
			cur <- otherResult{a, err}
		}()
	}
	if !ordered {
		n.waitWrites()
	}
	// Without lsetstat a symlink's owner and times stay as they are.
	skipped := symlink && !n.fs.client.Capabilities().Lsetstat

	if sizeSet {
		// Pages stored from earlier reads must not land after the kernel
		// cuts its cache to the new size.
		n.mu.Lock()
		n.stopStoresLocked()
		n.mu.Unlock()
	}

	// base becomes the attributes after the change when every changed
	// field is known, which saves a stat round trip.
	base, state := remote.Attr{}, cacheMiss
	if named {
		base, state = n.fs.meta.GetAttr(p)
		n.fs.meta.DropAttr(p)
	}
	known := state == cacheHit && !skipped

	if size, ok := in.GetSize(); ok {
		n.dropReadAhead(int64(size))
		n.mu.Lock()
		n.dataValid = false
		n.mu.Unlock()
		var err error
		if h != nil {
			err = h.file.Truncate(ctx, size)
		} else {
			err = n.fs.client.Truncate(ctx, p, size)
		}
		if err != nil {
			return toErrno(err)
		}
		// The server sets the mtime, which is not known here.
		known = false
	}

	if mode, ok := in.GetMode(); ok && !symlink {
		var err error
		if h != nil && !named {
			err = h.file.Chmod(ctx, mode)
		} else {
			err = n.fs.client.Chmod(ctx, p, mode)
		}
		if err != nil {
			return toErrno(err)
		}
		base.Mode = base.Mode&syscall.S_IFMT | mode&0o7777
	}

	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		ruid, rgid, errno := n.chown(ctx, p, uid, uok, gid, gok, symlink)
		if errno != 0 {
			return errno
		}
		base.UID, base.GID = ruid, rgid
	}

	if ordered {
		if err := oh.file.ChtimesAfterWrites(ctx, atime, mtime); err != nil {
			return toErrno(err)
		}
		base.Atime, base.Mtime = uint32(atime.Unix()), uint32(mtime.Unix())
	} else if aok || mok {
		if cur != nil {
			r := <-cur
			if r.err != nil {
				return toErrno(r.err)
			}
			atime, aok = time.Unix(int64(r.attr.Atime), 0), true
		}
		at, mt, errno := n.utimens(ctx, p, atime, aok, mtime, mok, symlink)
		if errno != 0 {
			return errno
		}
		base.Atime, base.Mtime = at, mt
	}

	// A listing of the directory in flight may predate this change.
	if named {
		n.fs.lister.changed(path.Dir(p))
	}
	a := base
	if known {
		n.fs.meta.PutAttr(p, a)
		n.setLast(a)
	} else {
		a, errno = n.attr(ctx)
		if errno != 0 {
			return errno
		}
	}
	n.mu.Lock()
	n.kernelKnown = false
	// Size and mtime are exact when both were known and the mtime was set.
	n.kernelExact = known && mok
	n.mu.Unlock()
	n.fs.fillAttr(a, n.nlink(), &out.Attr)
	out.SetTimeout(n.fs.kernelTimeout)
	return 0
}

type otherResult struct {
	attr remote.Attr
	err  error
}

// other returns the server's current attributes, to take an unchanged
// owner or time from. It never uses the cache: a value cached before
// another client's change would be written back over that change.
func (n *Node) other(ctx context.Context, p string) (remote.Attr, error) {
	return n.fs.client.Lstat(ctx, p)
}

func (n *Node) chown(ctx context.Context, p string, uid uint32, uok bool, gid uint32, gok bool, symlink bool) (uint32, uint32, syscall.Errno) {
	if uok {
		var errno syscall.Errno
		if uid, errno = n.fs.unmapUID(uid); errno != 0 {
			return 0, 0, errno
		}
	}
	if gok {
		var errno syscall.Errno
		if gid, errno = n.fs.unmapGID(gid); errno != 0 {
			return 0, 0, errno
		}
	}
	if !uok || !gok {
		cur, err := n.other(ctx, p)
		if err != nil {
			return 0, 0, toErrno(err)
		}
		if !uok {
			uid = cur.UID
		}
		if !gok {
			gid = cur.GID
		}
	}
	err := n.fs.client.Chown(ctx, p, uid, gid, !symlink)
	return uid, gid, n.symlinkResult("chown", p, err)
}

func (n *Node) utimens(ctx context.Context, p string, atime time.Time, aok bool, mtime time.Time, mok bool, symlink bool) (uint32, uint32, syscall.Errno) {
	if !aok || !mok {
		cur, err := n.other(ctx, p)
		if err != nil {
			return 0, 0, toErrno(err)
		}
		if !aok {
			atime = time.Unix(int64(cur.Atime), 0)
		}
		if !mok {
			mtime = time.Unix(int64(cur.Mtime), 0)
		}
	}
	err := n.fs.client.Chtimes(ctx, p, atime, mtime, !symlink)
	return uint32(atime.Unix()), uint32(mtime.Unix()), n.symlinkResult("utimens", p, err)
}

// symlinkResult turns the error of an attribute change into an errno; a
// change a server cannot apply to a symlink itself is skipped.
func (n *Node) symlinkResult(op, p string, err error) syscall.Errno {
	if errors.Is(err, remote.ErrSymlinkUnsupported) {
		n.fs.log.Debug("skipped change of symlink attributes: the server lacks lsetstat@openssh.com", "op", op, "path", p)
		return 0
	}
	return toErrno(err)
}

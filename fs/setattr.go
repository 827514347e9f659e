package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// Setattr applies size, mode, owner and times in that order. SFTP version 3
// sets owner and group together and both times together, so a change of
// one reads the other from the server first. On a symlink, owner and times
// change the link itself through lsetstat@openssh.com; servers without it
// leave the link unchanged (the change is skipped with a debug log), since
// plain SETSTAT would change the link's target.
func (n *Node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) (errno syscall.Errno) {
	p, named := n.path()
	defer n.fs.trace(ctx, "setattr", p, time.Now(), &errno)
	h, _ := fh.(*Handle)
	if h == nil && !named {
		h = n.anyHandle()
	}
	if !named && h == nil {
		return syscall.ENOENT
	}
	symlink := n.StableAttr().Mode == syscall.S_IFLNK
	defer n.changedLocally()

	n.waitWrites()
	if size, ok := in.GetSize(); ok {
		n.dropReadAhead(int64(size))
		var err error
		if h != nil {
			err = h.file.Truncate(ctx, size)
		} else {
			err = n.fs.client.Truncate(ctx, p, size)
		}
		if err != nil {
			return toErrno(err)
		}
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
	}

	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		if errno := n.chown(ctx, p, uid, uok, gid, gok, symlink); errno != 0 {
			return errno
		}
	}

	atime, aok := in.GetATime()
	mtime, mok := in.GetMTime()
	if aok || mok {
		if errno := n.utimens(ctx, p, atime, aok, mtime, mok, symlink); errno != 0 {
			return errno
		}
	}

	if named {
		n.fs.meta.Invalidate(p)
	}
	a, errno := n.attr(ctx)
	if errno != 0 {
		return errno
	}
	n.fs.fillAttr(a, n.nlink(), &out.Attr)
	out.SetTimeout(n.fs.kernelTimeout)
	return 0
}

func (n *Node) currentAttr(ctx context.Context, p string) (remote.Attr, error) {
	n.fs.meta.Invalidate(p)
	return n.fs.client.Lstat(ctx, p)
}

func (n *Node) chown(ctx context.Context, p string, uid uint32, uok bool, gid uint32, gok bool, symlink bool) syscall.Errno {
	if uok {
		uid = n.fs.unmapUID(uid)
	}
	if gok {
		gid = n.fs.unmapGID(gid)
	}
	if !uok || !gok {
		cur, err := n.currentAttr(ctx, p)
		if err != nil {
			return toErrno(err)
		}
		if !uok {
			uid = cur.UID
		}
		if !gok {
			gid = cur.GID
		}
	}
	err := n.fs.client.Chown(ctx, p, uid, gid, !symlink)
	return n.symlinkResult("chown", p, err)
}

func (n *Node) utimens(ctx context.Context, p string, atime time.Time, aok bool, mtime time.Time, mok bool, symlink bool) syscall.Errno {
	if !aok || !mok {
		cur, err := n.currentAttr(ctx, p)
		if err != nil {
			return toErrno(err)
		}
		if !aok {
			atime = time.Unix(int64(cur.Atime), 0)
		}
		if !mok {
			mtime = time.Unix(int64(cur.Mtime), 0)
		}
	}
	err := n.fs.client.Chtimes(ctx, p, atime, mtime, !symlink)
	return n.symlinkResult("utimens", p, err)
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

package remote

import (
	"context"
	"errors"
	"os"
	"path"
	"syscall"
	"time"
)

var (
	errNoEnt  = syscall.ENOENT
	errAccess = syscall.EACCES
)

// Stat returns the attributes of p, following a final symlink.
func (c *Client) Stat(ctx context.Context, p string) (Attr, error) {
	a, err := c.statRaw(ctx, p, true)
	if err != nil {
		return Attr{}, c.classify(ctx, "stat", p, err)
	}
	return a, nil
}

// Lstat returns the attributes of p itself.
func (c *Client) Lstat(ctx context.Context, p string) (Attr, error) {
	a, err := c.statRaw(ctx, p, false)
	if err != nil {
		return Attr{}, c.classify(ctx, "lstat", p, err)
	}
	return a, nil
}

// statRaw sends STAT (follow) or LSTAT and returns the unclassified error.
func (c *Client) statRaw(ctx context.Context, p string, follow bool) (Attr, error) {
	var a Attr
	err := c.call(ctx, func(cn *conn, _ bool) error {
		stat := cn.sftp.Lstat
		if follow {
			stat = cn.sftp.Stat
		}
		fi, err := stat(p)
		if err != nil {
			return err
		}
		a = attrFromInfo(fi)
		return nil
	})
	return a, err
}

// ReadDir lists directory p completely, without "." and "..". Entries
// carry the attributes of the READDIR reply, so no per-entry stat is sent.
func (c *Client) ReadDir(ctx context.Context, p string) ([]DirEntry, error) {
	var out []DirEntry
	err := c.call(ctx, func(cn *conn, _ bool) error {
		entries, err := cn.ext.readDir(p)
		out = entries
		return err
	})
	if err != nil {
		return nil, c.classify(ctx, "readdir", p, err)
	}
	return out, nil
}

// Mkdir creates directory p with permission bits mode, exactly: the
// server's umask does not apply.
func (c *Client) Mkdir(ctx context.Context, p string, mode uint32) error {
	// OpenSSH's sftp-server applies MKDIR's permission bits, less its
	// umask, so once the umask is known the mode is often right at once.
	withMode := c.inOrder && c.dirUmask.Load() >= 0
	err := c.call(ctx, func(cn *conn, retry bool) error {
		var err error
		if withMode {
			err = cn.ext.mkdir(p, mode&0o7777)
			if errors.Is(err, errExtClosed) {
				withMode = false
			}
		}
		if !withMode {
			err = cn.sftp.Mkdir(p)
		}
		if err != nil && retry && isFailure(err) {
			// The first attempt may have landed before the connection died.
			if fi, serr := cn.sftp.Lstat(p); serr == nil && fi.IsDir() {
				err = nil
			}
		}
		return err
	})
	if err != nil {
		return c.classifyCreate(ctx, "mkdir", p, err)
	}
	// sftp-server creates directories with the requested mode, or 0777,
	// less its umask, which is learned from the first mkdir.
	base := uint32(0o777)
	if withMode {
		base = mode & 0o7777
	}
	created, known := c.createdMode(&c.dirUmask, base)
	if !known {
		if a, err := c.Lstat(ctx, p); err == nil {
			c.dirUmask.Store(int32(0o777 &^ (a.Mode & 0o777)))
			created, known = a.Mode&0o7777, true
		}
	}
	if known && created == mode&0o7777 {
		return nil
	}
	return c.Chmod(ctx, p, mode)
}

// Remove unlinks the non-directory p.
func (c *Client) Remove(ctx context.Context, p string) error {
	err := c.call(ctx, func(cn *conn, retry bool) error {
		err := cn.sftp.Remove(p)
		if retry && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
	if err == nil {
		return nil
	}
	errno := baseErrno(err)
	if errno == syscall.EIO || errno == syscall.EACCES {
		if a, serr := c.Lstat(ctx, p); serr == nil && a.IsDir() {
			errno = syscall.EISDIR
		} else if errno == syscall.EIO {
			errno = c.recoverPathErrno(ctx, p, errno)
		}
	}
	return opError("unlink", p, errno, err)
}

// Rmdir removes the empty directory p.
func (c *Client) Rmdir(ctx context.Context, p string) error {
	err := c.call(ctx, func(cn *conn, retry bool) error {
		err := cn.sftp.RemoveDirectory(p)
		if retry && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
	if err == nil {
		return nil
	}
	errno := baseErrno(err)
	if errno == syscall.EIO {
		errno = c.recoverPathErrno(ctx, p, errno)
		if errno == syscall.EIO {
			if a, serr := c.Lstat(ctx, p); serr == nil {
				if !a.IsDir() {
					errno = syscall.ENOTDIR
				} else if ents, lerr := c.ReadDir(ctx, p); lerr == nil && len(ents) > 0 {
					errno = syscall.ENOTEMPTY
				} else {
					errno = syscall.EBUSY
				}
			}
		}
	}
	return opError("rmdir", p, errno, err)
}

// Rename moves from to to. With overwrite it replaces an existing to
// atomically when the server has posix-rename@openssh.com, and by removing
// to first otherwise (not atomic). Without overwrite an existing to fails
// with EEXIST.
func (c *Client) Rename(ctx context.Context, from, to string, overwrite bool) error {
	if from == to {
		return nil
	}
	if overwrite && !c.Capabilities().PosixRename {
		return c.renameReplacing(ctx, from, to)
	}
	err := c.call(ctx, func(cn *conn, retry bool) error {
		var err error
		if overwrite {
			err = cn.sftp.PosixRename(from, to)
		} else {
			err = cn.sftp.Rename(from, to)
		}
		if err != nil && retry {
			// The first attempt may have landed: from gone and to present.
			if _, e1 := cn.sftp.Lstat(from); errors.Is(e1, os.ErrNotExist) {
				if _, e2 := cn.sftp.Lstat(to); e2 == nil {
					return nil
				}
			}
		}
		return err
	})
	if err == nil {
		return nil
	}
	return opError("rename", from, c.renameErrno(ctx, from, to, err), err)
}

// renameReplacing emulates an overwriting rename on servers without
// posix-rename: an existing destination is removed first, so another
// client may briefly see no file at to.
func (c *Client) renameReplacing(ctx context.Context, from, to string) error {
	src, err := c.Lstat(ctx, from)
	if err != nil {
		return err
	}
	if dst, err := c.Lstat(ctx, to); err == nil {
		switch {
		case dst.IsDir() && !src.IsDir():
			return opError("rename", from, syscall.EISDIR, nil)
		case !dst.IsDir() && src.IsDir():
			return opError("rename", from, syscall.ENOTDIR, nil)
		case dst.IsDir():
			if err := c.Rmdir(ctx, to); err != nil {
				return err
			}
		default:
			if err := c.Remove(ctx, to); err != nil {
				return err
			}
		}
	}
	return c.Rename(ctx, from, to, false)
}

func (c *Client) renameErrno(ctx context.Context, from, to string, err error) syscall.Errno {
	errno := baseErrno(err)
	if errno != syscall.EIO && errno != syscall.ENOENT {
		return errno
	}
	src, serr := c.Lstat(ctx, from)
	if serr != nil {
		return c.recoverPathErrno(ctx, from, syscall.ENOENT)
	}
	if errno == syscall.ENOENT {
		return c.recoverPathErrno(ctx, path.Dir(to), syscall.ENOENT)
	}
	if src.IsDir() && (to == from || len(to) > len(from) && to[:len(from)+1] == from+"/") {
		return syscall.EINVAL
	}
	dst, derr := c.Lstat(ctx, to)
	if derr != nil {
		return c.recoverPathErrno(ctx, path.Dir(to), syscall.EIO)
	}
	switch {
	case dst.IsDir() && !src.IsDir():
		return syscall.EISDIR
	case !dst.IsDir() && src.IsDir():
		return syscall.ENOTDIR
	case dst.IsDir():
		if ents, lerr := c.ReadDir(ctx, to); lerr == nil && len(ents) > 0 {
			return syscall.ENOTEMPTY
		}
	default:
		return syscall.EEXIST
	}
	return syscall.EIO
}

// Symlink creates link pointing at target. The target is stored as given.
func (c *Client) Symlink(ctx context.Context, target, link string) error {
	err := c.call(ctx, func(cn *conn, retry bool) error {
		err := cn.sftp.Symlink(target, link)
		if err != nil && retry {
			if got, rerr := cn.sftp.ReadLink(link); rerr == nil && got == target {
				return nil
			}
		}
		return err
	})
	if err != nil {
		return c.classifyCreate(ctx, "symlink", link, err)
	}
	return nil
}

// Readlink returns the target of symlink p exactly as the server stores it.
func (c *Client) Readlink(ctx context.Context, p string) (string, error) {
	var target string
	err := c.call(ctx, func(cn *conn, _ bool) error {
		t, err := cn.sftp.ReadLink(p)
		target = t
		return err
	})
	if err != nil {
		errno := baseErrno(err)
		if errno == syscall.EIO {
			if a, serr := c.Lstat(ctx, p); serr == nil && !a.IsSymlink() {
				errno = syscall.EINVAL
			}
		}
		return "", opError("readlink", p, errno, err)
	}
	return target, nil
}

// Link creates the hard link to for the existing file from. Without the
// hardlink@openssh.com extension it fails with EPERM, as link(2) does on
// file systems without hard links.
func (c *Client) Link(ctx context.Context, from, to string) error {
	if !c.Capabilities().Hardlink {
		return opError("link", to, syscall.EPERM, errors.New("server lacks hardlink@openssh.com"))
	}
	err := c.call(ctx, func(cn *conn, _ bool) error { return cn.sftp.Link(from, to) })
	if err != nil {
		if _, serr := c.Lstat(ctx, from); serr != nil {
			return opError("link", from, syscall.ENOENT, err)
		}
		return c.classifyCreate(ctx, "link", to, err)
	}
	return nil
}

// StatFS returns usage of the file system holding p. Without the
// statvfs@openssh.com extension it returns ENOTSUP.
func (c *Client) StatFS(ctx context.Context, p string) (StatFS, error) {
	if !c.Capabilities().StatVFS {
		return StatFS{}, opError("statvfs", p, syscall.ENOTSUP, errors.New("server lacks statvfs@openssh.com"))
	}
	var out StatFS
	err := c.call(ctx, func(cn *conn, _ bool) error {
		st, err := cn.sftp.StatVFS(p)
		if err != nil {
			return err
		}
		out = StatFS{Bsize: st.Bsize, Frsize: st.Frsize, Blocks: st.Blocks, Bfree: st.Bfree, Bavail: st.Bavail,
			Files: st.Files, Ffree: st.Ffree, Favail: st.Favail, Namemax: st.Namemax}
		return nil
	})
	if err != nil {
		return StatFS{}, c.classify(ctx, "statvfs", p, err)
	}
	return out, nil
}

// Chmod sets the permission bits of p (following symlinks, as chmod(2)).
func (c *Client) Chmod(ctx context.Context, p string, mode uint32) error {
	return c.setstat(ctx, "chmod", p, false, setAttrs{Flags: attrFlagPermissions, Perm: mode & 0o7777})
}

// Chown sets the owner and group of p; follow selects chown(2) or lchown(2).
func (c *Client) Chown(ctx context.Context, p string, uid, gid uint32, follow bool) error {
	return c.setstat(ctx, "chown", p, !follow, setAttrs{Flags: attrFlagUIDGID, UID: uid, GID: gid})
}

// Chtimes sets access and modification times of p in whole seconds; follow
// selects utimes(2) or lutimes(3). Times outside SFTP version 3's unsigned
// 32-bit range fail with EINVAL.
func (c *Client) Chtimes(ctx context.Context, p string, atime, mtime time.Time, follow bool) error {
	if err := checkTimes(p, atime, mtime); err != nil {
		return err
	}
	return c.setstat(ctx, "utimens", p, !follow, setAttrs{Flags: attrFlagACModTime, Atime: uint32(atime.Unix()), Mtime: uint32(mtime.Unix())})
}

// checkTimes rejects times that SFTP's unsigned 32-bit seconds cannot
// hold with EINVAL.
func checkTimes(p string, atime, mtime time.Time) error {
	a, m := atime.Unix(), mtime.Unix()
	if a < 0 || a > 1<<32-1 || m < 0 || m > 1<<32-1 {
		return opError("utimens", p, syscall.EINVAL, errors.New("SFTP stores times from 1970 to 2106 only"))
	}
	return nil
}

// Truncate sets the size of p.
func (c *Client) Truncate(ctx context.Context, p string, size uint64) error {
	return c.setstat(ctx, "truncate", p, false, setAttrs{Flags: attrFlagSize, Size: size})
}

// ErrSymlinkUnsupported is returned when a symlink's own attributes would
// have to change but the server lacks lsetstat@openssh.com: plain SETSTAT
// would change the link's target instead.
var ErrSymlinkUnsupported = errors.New("remote: server cannot change a symlink's own attributes")

func (c *Client) setstat(ctx context.Context, op, p string, noFollow bool, a setAttrs) error {
	if noFollow && !c.Capabilities().Lsetstat {
		return opError(op, p, syscall.ENOTSUP, ErrSymlinkUnsupported)
	}
	err := c.call(ctx, func(cn *conn, _ bool) error {
		if noFollow {
			return cn.ext.lsetstat(p, a)
		}
		switch {
		case a.Flags == attrFlagPermissions:
			return cn.sftp.Chmod(p, os.FileMode(a.Perm&0o777)|modeBits(a.Perm))
		case a.Flags == attrFlagUIDGID:
			return cn.sftp.Chown(p, int(a.UID), int(a.GID))
		case a.Flags == attrFlagACModTime:
			return cn.sftp.Chtimes(p, time.Unix(int64(a.Atime), 0), time.Unix(int64(a.Mtime), 0))
		case a.Flags == attrFlagSize:
			return cn.sftp.Truncate(p, int64(a.Size))
		}
		return cn.ext.setstatFollow(p, a)
	})
	if err == nil {
		return nil
	}
	return c.setstatError(ctx, op, p, err)
}

// setstatError turns the failure of an attribute change of p into an
// OpError with the errno a local file system would give.
func (c *Client) setstatError(ctx context.Context, op, p string, err error) error {
	errno := baseErrno(err)
	if errno == syscall.EACCES && op != "truncate" {
		// OpenSSH reports EPERM as PERMISSION_DENIED; for attribute
		// changes by a non-owner EPERM is what the kernel would return.
		errno = syscall.EPERM
	}
	if errno == syscall.EIO {
		errno = c.recoverPathErrno(ctx, p, errno)
	}
	return opError(op, p, errno, err)
}

// modeBits converts setuid, setgid and sticky bits to os.FileMode flags,
// which pkg/sftp converts back to the POSIX bits.
func modeBits(perm uint32) os.FileMode {
	var m os.FileMode
	if perm&syscall.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if perm&syscall.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if perm&syscall.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

// classify wraps err of a path operation, recovering the errno that a
// generic FAILURE hides.
func (c *Client) classify(ctx context.Context, op, p string, err error) error {
	if errors.Is(err, ErrNotConnected) || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return &OpError{Op: op, Path: p, Errno: connErrno(err), Err: err}
	}
	// ENOENT is returned as it is: the kernel walks paths one name at a
	// time, so the parent is a directory it has just looked up, and
	// telling ENOTDIR apart would cost a round trip on every miss.
	errno := baseErrno(err)
	if errno == syscall.EIO {
		errno = c.recoverPathErrno(ctx, p, errno)
	}
	return opError(op, p, errno, err)
}

// classifyCreate is classify for operations that create the name p.
func (c *Client) classifyCreate(ctx context.Context, op, p string, err error) error {
	if errors.Is(err, ErrNotConnected) || errors.Is(err, ErrClosed) {
		return &OpError{Op: op, Path: p, Errno: connErrno(err), Err: err}
	}
	errno := baseErrno(err)
	if errno == syscall.EIO || errno == syscall.ENOENT {
		if _, serr := c.Lstat(ctx, p); serr == nil && errno == syscall.EIO {
			return opError(op, p, syscall.EEXIST, err)
		}
		errno = c.recoverPathErrno(ctx, path.Dir(p), errno)
		if errno == syscall.EIO {
			errno = c.diskFullErrno(ctx, p, errno)
		}
	}
	return opError(op, p, errno, err)
}

// recoverPathErrno finds why p could not be reached: a missing component
// gives ENOENT and a component that is not a directory gives ENOTDIR.
// Otherwise it returns fallback.
func (c *Client) recoverPathErrno(ctx context.Context, p string, fallback syscall.Errno) syscall.Errno {
	if p == "/" || p == "." || p == "" {
		return fallback
	}
	parent := path.Dir(p)
	pa, err := c.statRaw(ctx, parent, true)
	switch {
	case err != nil && errors.Is(err, os.ErrNotExist):
		if r := c.recoverPathErrno(ctx, parent, syscall.ENOENT); r == syscall.ENOTDIR {
			return r
		}
		return syscall.ENOENT
	case err != nil:
		return fallback
	case !pa.IsDir():
		return syscall.ENOTDIR
	}
	return fallback
}

// diskFullErrno returns ENOSPC when the server's file system of p has no
// space left, otherwise fallback.
func (c *Client) diskFullErrno(ctx context.Context, p string, fallback syscall.Errno) syscall.Errno {
	if !c.Capabilities().StatVFS {
		return fallback
	}
	var st StatFS
	err := c.call(ctx, func(cn *conn, _ bool) error {
		v, err := cn.sftp.StatVFS(path.Dir(p))
		if err == nil {
			st = StatFS{Bavail: v.Bavail, Favail: v.Favail}
		}
		return err
	})
	if err == nil && (st.Bavail == 0 || st.Favail == 0) {
		return syscall.ENOSPC
	}
	return fallback
}

func connErrno(err error) syscall.Errno {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	}
	return syscall.EIO
}

package fs

import (
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// fillAttr converts remote attributes to what the kernel sees, applying the
// uid, gid, umask and idmap options. SFTP version 3 has no ctime, so ctime
// shows the mtime.
func (f *filesystem) fillAttr(a remote.Attr, nlink uint32, out *fuse.Attr) {
	mode := a.Mode
	if f.opts.Umask != nil {
		mode &^= *f.opts.Umask & 0o7777
	}
	out.Mode = mode
	out.Size = a.Size
	out.Blocks = (a.Size + 511) / 512
	out.Blksize = 4096
	out.Atime = uint64(a.Atime)
	out.Mtime = uint64(a.Mtime)
	out.Ctime = uint64(a.Mtime)
	out.Atimensec, out.Mtimensec, out.Ctimensec = 0, 0, 0
	out.Nlink = nlink
	out.Owner = fuse.Owner{Uid: f.mapUID(a.UID), Gid: f.mapGID(a.GID)}
}

func (f *filesystem) mapUID(uid uint32) uint32 {
	switch {
	case f.opts.UID != nil:
		return *f.opts.UID
	case f.opts.IDMap == "user" && uid == f.opts.RemoteUID:
		return f.localUID
	}
	return uid
}

func (f *filesystem) mapGID(gid uint32) uint32 {
	switch {
	case f.opts.GID != nil:
		return *f.opts.GID
	case f.opts.IDMap == "user" && gid == f.opts.RemoteGID:
		return f.localGID
	}
	return gid
}

// unmapUID turns a local uid given to chown into the remote one.
func (f *filesystem) unmapUID(uid uint32) uint32 {
	if f.opts.IDMap == "user" && uid == f.localUID {
		return f.opts.RemoteUID
	}
	return uid
}

func (f *filesystem) unmapGID(gid uint32) uint32 {
	if f.opts.IDMap == "user" && gid == f.localGID {
		return f.opts.RemoteGID
	}
	return gid
}

// newFileAttr is the attributes of a file this mount just created, used
// instead of a round trip to stat it.
func (f *filesystem) newAttr(mode uint32, size uint64, now uint32) remote.Attr {
	return remote.Attr{Mode: mode, Size: size, UID: f.opts.RemoteUID, GID: f.opts.RemoteGID, Atime: now, Mtime: now}
}

// checkName rejects names the server could never store.
func checkName(name string) syscall.Errno {
	if len(name) > 255 {
		return syscall.ENAMETOOLONG
	}
	if strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, 0) >= 0 {
		return syscall.EINVAL
	}
	return 0
}

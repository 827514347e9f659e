package fs

import (
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// fillAttr converts remote attributes to those the kernel gets, applying the
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

// mapUID returns the local uid shown for a remote uid. An id that
// idmap=file cannot map is returned unchanged, because under nomap=error
// checkOwner has rejected it before.
func (f *filesystem) mapUID(uid uint32) uint32 {
	switch {
	case f.opts.UID != nil:
		return *f.opts.UID
	case f.opts.IDMap == "user" && uid == f.opts.RemoteUID:
		return f.localUID
	case f.opts.IDMap == "file" && f.opts.UIDMap != nil:
		if local, ok := f.opts.UIDMap.Local(uid); ok {
			return local
		}
	}
	return uid
}

func (f *filesystem) mapGID(gid uint32) uint32 {
	switch {
	case f.opts.GID != nil:
		return *f.opts.GID
	case f.opts.IDMap == "user" && gid == f.opts.RemoteGID:
		return f.localGID
	case f.opts.IDMap == "file" && f.opts.GIDMap != nil:
		if local, ok := f.opts.GIDMap.Local(gid); ok {
			return local
		}
	}
	return gid
}

// checkOwner returns EPERM for attributes whose owner or group has no entry
// in the uidfile or gidfile under idmap=file and nomap=error, which is how
// sshfs 3.7 fails stat for such files. It runs before fillAttr, also when
// uid= or gid= would hide the owner, as in sshfs.
func (f *filesystem) checkOwner(a remote.Attr) syscall.Errno {
	if !f.strictIDMap() {
		return 0
	}
	if m := f.opts.UIDMap; m != nil {
		if _, ok := m.Local(a.UID); !ok {
			return syscall.EPERM
		}
	}
	if m := f.opts.GIDMap; m != nil {
		if _, ok := m.Local(a.GID); !ok {
			return syscall.EPERM
		}
	}
	return 0
}

func (f *filesystem) strictIDMap() bool {
	return f.opts.IDMap == "file" && f.opts.NoMap != "ignore"
}

// unmapUID turns a local uid given to chown into the remote one. Under
// idmap=file and nomap=error, a uid missing from the uidfile is EPERM.
func (f *filesystem) unmapUID(uid uint32) (uint32, syscall.Errno) {
	switch {
	case f.opts.IDMap == "user" && uid == f.localUID:
		return f.opts.RemoteUID, 0
	case f.opts.IDMap == "file" && f.opts.UIDMap != nil:
		if remote, ok := f.opts.UIDMap.Remote(uid); ok {
			return remote, 0
		}
		if f.strictIDMap() {
			return 0, syscall.EPERM
		}
	}
	return uid, 0
}

func (f *filesystem) unmapGID(gid uint32) (uint32, syscall.Errno) {
	switch {
	case f.opts.IDMap == "user" && gid == f.localGID:
		return f.opts.RemoteGID, 0
	case f.opts.IDMap == "file" && f.opts.GIDMap != nil:
		if remote, ok := f.opts.GIDMap.Remote(gid); ok {
			return remote, 0
		}
		if f.strictIDMap() {
			return 0, syscall.EPERM
		}
	}
	return gid, 0
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

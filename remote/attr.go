package remote

import (
	"os"
	"syscall"

	"github.com/pkg/sftp"
)

// Attr is a file's metadata as SFTP version 3 reports it. Times have
// whole-second resolution and the protocol carries no inode number, link
// count or ctime.
type Attr struct {
	// Mode holds the file type and permission bits as in stat(2).
	Mode  uint32
	Size  uint64
	UID   uint32
	GID   uint32
	Atime uint32
	Mtime uint32
}

// IsDir reports whether a describes a directory.
func (a Attr) IsDir() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// IsSymlink reports whether a describes a symbolic link.
func (a Attr) IsSymlink() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFLNK }

// DirEntry is one name of a directory listing with the attributes that the
// READDIR reply carried (those of the entry itself, not a link's target).
type DirEntry struct {
	Name string
	Attr Attr
}

// StatFS is the file system usage that statvfs@openssh.com reports.
type StatFS struct {
	Bsize, Frsize         uint64
	Blocks, Bfree, Bavail uint64
	Files, Ffree, Favail  uint64
	Namemax               uint64
}

func attrFromInfo(fi os.FileInfo) Attr {
	st, ok := fi.Sys().(*sftp.FileStat)
	if !ok {
		// pkg/sftp always fills a *FileStat; keep a sane fallback anyway.
		return Attr{Mode: uint32(fi.Mode().Perm()), Size: uint64(fi.Size()), Mtime: uint32(fi.ModTime().Unix())}
	}
	return Attr{Mode: st.Mode, Size: st.Size, UID: st.UID, GID: st.GID, Atime: st.Atime, Mtime: st.Mtime}
}

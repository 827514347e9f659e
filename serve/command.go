package serve

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/sys/unix"
)

// Filecmd runs the requests that return only a status.
func (h *handler) Filecmd(r *sftp.Request) error {
	switch r.Method {
	case "Setstat":
		return h.setstat(r)
	case "Rename":
		return h.rename(r.Filepath, r.Target)
	case "Remove":
		return h.fail("remove", r.Filepath, h.unlinkat(r.Filepath, 0))
	case "Rmdir":
		return h.fail("rmdir", r.Filepath, h.unlinkat(r.Filepath, unix.AT_REMOVEDIR))
	case "Mkdir":
		return h.mkdir(r.Filepath)
	case "Link":
		err := h.root.Link(rootName(r.Filepath), rootName(r.Target))
		return h.fail("link", r.Filepath+" "+r.Target, err)
	case "Symlink":
		// pkg/sftp puts the link's target text, unchanged, in Filepath
		// and the path of the new link in Target.
		err := h.root.Symlink(r.Filepath, rootName(r.Target))
		return h.fail("symlink", r.Filepath+" "+r.Target, err)
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename renames, replacing an existing target as rename(2) does.
func (h *handler) PosixRename(r *sftp.Request) error {
	err := h.root.Rename(rootName(r.Filepath), rootName(r.Target))
	return h.fail("rename", r.Filepath+" "+r.Target, err)
}

// setstat applies the attributes of a setstat or fsetstat request in the
// order OpenSSH's sftp-server does: size, permissions, times, owner.
//
// NOTE: pkg/sftp turns fsetstat into a setstat on the handle's path, so it
// fails for a file that was renamed or removed after it was opened, and
// truncation needs write permission on the file at that moment.
func (h *handler) setstat(r *sftp.Request) error {
	name := rootName(r.Filepath)
	flags := r.AttrFlags()
	attrs := r.Attributes()

	if flags.Size {
		if err := h.truncate(name, int64(attrs.Size)); err != nil {
			return h.fail("truncate", r.Filepath, err)
		}
	}
	if flags.Permissions {
		if err := h.root.Chmod(name, fileMode(attrs.Mode)); err != nil {
			return h.fail("chmod", r.Filepath, err)
		}
	}
	if flags.Acmodtime {
		atime := time.Unix(int64(attrs.Atime), 0)
		mtime := time.Unix(int64(attrs.Mtime), 0)
		if err := h.root.Chtimes(name, atime, mtime); err != nil {
			return h.fail("utimes", r.Filepath, err)
		}
	}
	if flags.UidGid {
		if err := h.root.Chown(name, int(attrs.UID), int(attrs.GID)); err != nil {
			return h.fail("chown", r.Filepath, err)
		}
	}
	return nil
}

// truncate sets the size of the named file. O_NONBLOCK keeps the open from
// waiting for a reader when the name is a FIFO.
func (h *handler) truncate(name string, size int64) error {
	f, err := h.root.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// mkdir creates a directory with the requested permissions, or 0777, minus
// the process umask, as OpenSSH's sftp-server does.
func (h *handler) mkdir(p string) error {
	name := rootName(p)
	mode := os.FileMode(0o777)
	if requested, ok := h.modes.take(fxpMkdir, p); ok {
		mode = requested
	}
	if err := h.root.Mkdir(name, mode.Perm()); err != nil {
		return h.fail("mkdir", p, err)
	}

	// os.Root.Mkdir accepts only permission bits, so setuid, setgid and
	// sticky are added afterwards, keeping the bits the umask and the
	// parent's setgid left.
	special := mode & (os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if special == 0 {
		return nil
	}
	info, err := h.root.Lstat(name)
	if err == nil {
		existing := info.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
		err = h.root.Chmod(name, existing|special)
	}
	return h.fail("chmod", p, err)
}

// unlinkat removes the entry p with unlinkat(2) flags, so a file is never
// removed by rmdir, nor a directory by remove.
func (h *handler) unlinkat(p string, flags int) error {
	return h.atParent(p, func(dirfd int, name string) error {
		return unix.Unlinkat(dirfd, name, flags)
	})
}

// renameIfAbsent renames oldPath to newPath unless newPath exists. Another
// process can create newPath between the check and the rename.
func (h *handler) renameIfAbsent(oldPath, newPath string) error {
	_, err := h.root.Lstat(rootName(newPath))
	if err == nil {
		return syscall.EEXIST
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return h.root.Rename(rootName(oldPath), rootName(newPath))
}

// atParent calls fn with a descriptor of the directory that contains p,
// resolved inside the root, and the last element of p. The *at system calls
// used with it (unlinkat, renameat2) do not follow a symbolic link in that
// last element, so they cannot reach outside the root either.
func (h *handler) atParent(p string, fn func(dirfd int, name string) error) error {
	p = path.Join("/", p)
	if p == "/" {
		return syscall.EBUSY // the root itself can be neither removed nor renamed
	}

	dir, err := h.root.OpenFile(rootName(path.Dir(p)), os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer dir.Close()
	return withFD(dir, func(fd int) error { return fn(fd, path.Base(p)) })
}

// withFD calls fn with the descriptor of f.
func withFD(f *os.File, fn func(fd int) error) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := raw.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

package serve

import (
	"os"

	"github.com/pkg/sftp"
	"golang.org/x/sys/unix"
)

// StatVFS reports the file system that contains the request's path, for the
// statvfs@openssh.com extension.
func (h *handler) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	// O_PATH needs no read permission on the file, like statvfs(3). A final
	// symbolic link is opened itself, so its own file system is reported.
	f, err := h.root.OpenFile(rootName(r.Filepath), unix.O_PATH, 0)
	if err != nil {
		return nil, h.fail("statvfs", r.Filepath, err)
	}
	defer f.Close()

	var st unix.Statfs_t
	if err := withFD(f, func(fd int) error { return unix.Fstatfs(fd, &st) }); err != nil {
		return nil, h.fail("statvfs", r.Filepath, os.NewSyscallError("fstatfs", err))
	}
	return &sftp.StatVFS{
		Bsize:  uint64(st.Bsize),
		Frsize: uint64(st.Frsize),
		Blocks: st.Blocks,
		Bfree:  st.Bfree,
		Bavail: st.Bavail,
		Files:  st.Files,
		Ffree:  st.Ffree,
		Favail: st.Ffree, // glibc's statvfs reports f_favail = f_ffree on Linux
		Fsid:   uint64(uint32(st.Fsid.Val[0])) | uint64(uint32(st.Fsid.Val[1]))<<32,
		// SSH_FXE_STATVFS_ST_RDONLY and _ST_NOSUID equal the Linux ST_ flags.
		Flag:    uint64(st.Flags) & (unix.ST_RDONLY | unix.ST_NOSUID),
		Namemax: uint64(st.Namelen),
	}, nil
}

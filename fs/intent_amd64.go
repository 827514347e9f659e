package fs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// legacyCreatedPathArg covers the system calls amd64 has besides the *at
// ones: it returns the index of the argument holding the created path, or
// -1.
func legacyCreatedPathArg(nr int64, arg func(int) uint64) int {
	switch nr {
	case unix.SYS_OPEN:
		if arg(1)&syscall.O_CREAT != 0 {
			return 0
		}
	case unix.SYS_CREAT, unix.SYS_MKDIR, unix.SYS_MKNOD:
		return 0
	case unix.SYS_SYMLINK, unix.SYS_LINK, unix.SYS_RENAME:
		return 1
	case unix.SYS_RENAMEAT:
		return 3
	}
	return -1
}

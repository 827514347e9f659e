package fs

import (
	"context"
	"errors"
	"syscall"

	"github.com/gosshfs/gosshfs/remote"
)

// toErrno maps any error of the remote layer to the errno the kernel gets.
// Unknown errors become EIO, never ENOSYS.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var opErr *remote.OpError
	if errors.As(err, &opErr) && opErr.Errno != 0 && opErr.Errno != syscall.ENOSYS {
		return opErr.Errno
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != syscall.ENOSYS {
		return errno
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	}
	return syscall.EIO
}

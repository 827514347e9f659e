package remote

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/pkg/sftp"
)

// SFTP version 3 status codes (draft-ietf-secsh-filexfer-02, section 7).
const (
	fxEOF              = 1
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxFailure          = 4
	fxBadMessage       = 5
	fxNoConnection     = 6
	fxConnectionLost   = 7
)

var (
	// ErrNotConnected is returned while the server cannot be reached and
	// the operation's timeout ran out before a redial succeeded.
	ErrNotConnected = errors.New("remote: not connected to the server")
	// ErrClosed is returned by operations on a closed Client or File.
	ErrClosed = errors.New("remote: client closed")
	// ErrStale is returned by a File whose remote file can no longer be
	// reached after a reconnect (it was unlinked or replaced meanwhile).
	ErrStale = errors.New("remote: file is gone after a reconnect")
)

// OpError is the error of one remote operation. Errno is the POSIX error
// the operation maps to, recovered from the server's state when the SFTP
// status alone is too generic.
type OpError struct {
	Op    string
	Path  string
	Errno syscall.Errno
	Err   error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("remote: %s %q: %v", e.Op, e.Path, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Is lets errors.Is(err, syscall.ENOENT) match the mapped errno.
func (e *OpError) Is(target error) bool {
	errno, ok := target.(syscall.Errno)
	return ok && errno == e.Errno
}

// statusCode extracts the SFTP status code of err, or 0 when err carries none.
func statusCode(err error) uint32 {
	var st *sftp.StatusError
	if errors.As(err, &st) {
		return st.Code
	}
	var ours *sftpStatus
	if errors.As(err, &ours) {
		return ours.Code
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fxNoSuchFile
	case errors.Is(err, os.ErrPermission):
		return fxPermissionDenied
	case errors.Is(err, io.EOF):
		return fxEOF
	}
	return 0
}

// baseErrno maps an SFTP error to an errno without asking the server.
// OpenSSH's sftp-server reports ENOENT as NO_SUCH_FILE, EACCES and EPERM as
// PERMISSION_DENIED, EINVAL and ENAMETOOLONG as BAD_MESSAGE, ENOSYS as
// OP_UNSUPPORTED, and every other errno as FAILURE, which callers refine.
func baseErrno(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	switch statusCode(err) {
	case fxNoSuchFile:
		return syscall.ENOENT
	case fxPermissionDenied:
		return syscall.EACCES
	case fxBadMessage:
		return syscall.EINVAL
	case fxOpUnsupported:
		return syscall.ENOTSUP
	case fxEOF:
		return syscall.EIO
	}
	return syscall.EIO
}

// isFailure reports whether err is SFTP's generic FAILURE status.
func isFailure(err error) bool { return statusCode(err) == fxFailure }

func opError(op, path string, errno syscall.Errno, err error) error {
	if err == nil {
		err = errno
	}
	return &OpError{Op: op, Path: path, Errno: errno, Err: err}
}

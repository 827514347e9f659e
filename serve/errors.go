package serve

import (
	"errors"
	"io/fs"
	"os"

	"github.com/pkg/sftp"
)

// requestError is a failed request as pkg/sftp sends it to the client: the
// status code comes from code and the status message from Error.
//
// Handlers return it instead of the raw error for two reasons. pkg/sftp
// v1.13.12 maps only a bare syscall.Errno or *os.PathError to a status code,
// so EACCES inside an *os.LinkError (rename, link, symlink) would be sent as
// SSH_FX_FAILURE. And errors from files opened through os.Root contain the
// absolute path on the server, which the client has no use for.
type requestError struct {
	op   string
	path string // path as the client sent it
	err  error  // cause, usually a syscall.Errno
	code error  // one of the sftp.ErrSSHFx* status codes
}

func (e *requestError) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }

// Unwrap returns the status code, which pkg/sftp finds with errors.As, and
// the cause.
func (e *requestError) Unwrap() []error { return []error{e.code, e.err} }

// newRequestError wraps err for the client, or returns nil when err is nil.
// ENOENT becomes SSH_FX_NO_SUCH_FILE, EACCES and EPERM become
// SSH_FX_PERMISSION_DENIED, and every other error SSH_FX_FAILURE.
func newRequestError(op, clientPath string, err error) error {
	if err == nil {
		return nil
	}

	cause := err
	var pathErr *os.PathError
	var linkErr *os.LinkError
	switch {
	case errors.As(err, &pathErr):
		cause = pathErr.Err
	case errors.As(err, &linkErr):
		cause = linkErr.Err
	}

	var code error = sftp.ErrSSHFxFailure
	switch {
	case errors.Is(cause, fs.ErrNotExist):
		code = sftp.ErrSSHFxNoSuchFile
	case errors.Is(cause, fs.ErrPermission):
		code = sftp.ErrSSHFxPermissionDenied
	}
	return &requestError{op: op, path: clientPath, err: cause, code: code}
}

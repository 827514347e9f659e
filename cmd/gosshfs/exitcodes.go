package main

import "errors"

// Exit statuses of the gosshfs command. Scripts and mount(8) see only the
// number, so each failure class keeps its own value.
const (
	exitOK          = 0
	exitUsage       = 1 // invalid command line, option or option value
	exitMountPoint  = 2 // mount point missing, not a directory, already mounted or not mounted
	exitConnect     = 3 // SSH connection, authentication or host key check failed
	exitRemoteDir   = 4 // remote directory missing or not a directory
	exitMount       = 5 // the FUSE mount or unmount failed
	exitServe       = 6 // gosshfs serve failed
	exitInterrupted = 130
)

// exitError is an error that carries the exit status the process ends with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExitCode attaches code to err, keeping an inner code if err already has one.
func withExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	var inner *exitError
	if errors.As(err, &inner) {
		return err
	}
	return &exitError{code: code, err: err}
}

// exitCodeOf returns the exit status for err: exitOK for nil, the attached
// code when there is one, and exitUsage otherwise, because errors without a
// code come from flag parsing.
func exitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitUsage
}

package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// programTimeout bounds one helper program (git, tar, python3, ...) run on
// a mount, so that a hung FUSE call fails the test instead of the suite.
const programTimeout = 3 * time.Minute

// writeFile writes data to path with mode, failing t on error.
func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("chmod %s: %v", path, err)
	}
}

// readFile returns the content of path, failing t on error.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

// lstat returns the lstat(2) result of path, failing t on error.
func lstat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return &st
}

// mkdir creates path with mode 0755, failing t on error.
func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", path, err)
	}
}

// setTimes sets the atime and mtime of path in whole seconds.
func setTimes(t *testing.T, path string, atime, mtime int64) {
	t.Helper()
	if err := os.Chtimes(path, time.Unix(atime, 0), time.Unix(mtime, 0)); err != nil {
		t.Fatalf("chtimes %s: %v", path, err)
	}
}

// runProgram runs name with args in dir and returns its combined output.
// The environment is the test's plus env.
func runProgram(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), programTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = errors.New("timed out after " + programTimeout.String())
	}
	return string(out), err
}

// mustRun is runProgram that fails t when the program fails.
func mustRun(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, err := runProgram(dir, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s (in %q) failed: %v\n%s", name, strings.Join(args, " "), dir, err, firstLines(out, 40))
	}
	return out
}

// runPython runs a python3 script with args and returns its combined
// output. A script reports a failed check by exiting non-zero with a
// message.
func runPython(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	return runProgram("", nil, "python3", append([]string{"-c", script}, args...)...)
}

// errnoOf returns the syscall.Errno inside err, or 0.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}

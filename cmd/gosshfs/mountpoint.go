package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// mountInfoPath lists the mounts of this process's mount namespace.
const mountInfoPath = "/proc/self/mountinfo"

// checkMountPoint checks that path, an absolute path, is an existing
// directory with nothing mounted on it that the caller may mount on, and
// returns it with symbolic links resolved.
func checkMountPoint(path string) (string, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("mount point %q does not exist: create it with mkdir -p %s", path, shellQuote(path))
	case errors.Is(err, syscall.ENOTCONN):
		return "", fmt.Errorf("mount point %q is a disconnected FUSE mount: unmount it with gosshfs umount %s",
			path, shellQuote(path))
	case err != nil:
		return "", fmt.Errorf("cannot use mount point %q: %w", path, err)
	case !info.IsDir():
		return "", fmt.Errorf("mount point %q is not a directory: give an empty directory to mount on", path)
	}

	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("cannot use mount point %q: %w", path, err)
	}

	mounted, err := isMounted(resolved)
	if err != nil {
		return "", err
	}
	if mounted {
		return "", fmt.Errorf("mount point %q is already mounted: unmount it with gosshfs umount %s or choose another directory",
			path, shellQuote(path))
	}

	// fusermount3 lets a user other than root mount only on a directory the
	// user can write to.
	if os.Geteuid() != 0 && unix.Access(resolved, unix.W_OK) != nil {
		return "", fmt.Errorf("mount point %q is not writable by you, and fusermount3 needs write access to it", path)
	}
	return resolved, nil
}

// isMounted reports whether a file system is mounted exactly at path.
func isMounted(path string) (bool, error) {
	f, err := os.Open(mountInfoPath)
	if err != nil {
		return false, fmt.Errorf("read the mount table: %w", err)
	}
	defer f.Close()

	mountPoints, err := parseMountInfo(f)
	if err != nil {
		return false, fmt.Errorf("read the mount table %s: %w", mountInfoPath, err)
	}
	return contains(mountPoints, filepath.Clean(path)), nil
}

// parseMountInfo returns the mount point of every line of a
// /proc/PID/mountinfo file. The mount point is the fifth field, with space,
// tab, newline and backslash written as octal escapes (proc(5)).
func parseMountInfo(r io.Reader) ([]string, error) {
	var mountPoints []string
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 5 {
			continue
		}
		mountPoints = append(mountPoints, unescapeOctal(fields[4]))
	}
	return mountPoints, scanner.Err()
}

// unescapeOctal decodes the \NNN escapes the kernel writes in mountinfo.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctalDigits(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctalDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return len(s) == 3 && s[0] <= '3'
}

// checkAllowOther reports an error when allow_other would be rejected by
// fusermount3: a user other than root needs user_allow_other in
// /etc/fuse.conf.
func checkAllowOther(confPath string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	content, err := os.ReadFile(confPath)
	if err == nil {
		for _, line := range strings.Split(string(content), "\n") {
			if strings.TrimSpace(line) == "user_allow_other" {
				return nil
			}
		}
	}
	return fmt.Errorf("option allow_other needs the line user_allow_other in %s, or gosshfs run as root", confPath)
}

// shellQuote quotes s for a POSIX shell when it contains more than the
// characters that are safe unquoted, so a suggested command can be pasted.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@%=", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

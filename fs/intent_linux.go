package fs

import (
	"bytes"
	"context"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// creating reports whether the thread that caused the lookup of p is in a
// system call that creates p as its last path component: open with
// O_CREAT, mkdir, symlink, link, mknod, or the target of rename. Such a
// call checks the name on the server itself (an exclusive create fails
// when the name exists, and open with O_CREAT then opens it), so its
// lookup may return ENOENT without a round trip. The call and its path
// are read from /proc/TID/syscall and /proc/TID/mem, which needs the
// caller's user (or root). When they cannot be read, or the path has "."
// or ".." components, creating reports false.
func creating(ctx context.Context, p string) bool {
	fc, ok := ctx.(*fuse.Context)
	if !ok || fc.Pid == 0 {
		return false
	}
	proc := "/proc/" + strconv.FormatUint(uint64(fc.Pid), 10)
	// Plain system calls: os.Open would also try to register each /proc
	// file with the poller, which costs five more calls per lookup.
	var line [256]byte
	n, err := readProcFile(proc+"/syscall", line[:], -1)
	if err != nil {
		return false
	}
	addr, ok := createdPathArg(string(line[:n]))
	if !ok {
		return false
	}
	buf := make([]byte, 4096)
	n, _ = readProcFile(proc+"/mem", buf, int64(addr))
	end := bytes.IndexByte(buf[:n], 0)
	if end < 0 {
		return false
	}
	return pathEndsWith(string(buf[:end]), p)
}

// readProcFile reads the start of the file at name into buf, or with
// off >= 0 the bytes at off, in one read.
func readProcFile(name string, buf []byte, off int64) (int, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var n int
	if off < 0 {
		n, err = unix.Read(fd, buf)
	} else {
		n, err = unix.Pread(fd, buf, off)
	}
	if n < 0 {
		n = 0
	}
	return n, err
}

// pathEndsWith reports whether the path a system call was given ends with
// the components of p: its last component is p's, and so on for as many
// components as it has.
func pathEndsWith(arg, p string) bool {
	arg = strings.TrimRight(arg, "/")
	if arg == "" {
		return false
	}
	for {
		i := strings.LastIndexByte(arg, '/')
		comp := arg[i+1:]
		if comp == "." || comp == ".." {
			return false
		}
		if comp != "" {
			if p == "/" || p == "." || path.Base(p) != comp {
				return false
			}
			p = path.Dir(p)
		}
		if i < 0 {
			return true
		}
		arg = arg[:i]
		if arg == "" {
			// An absolute path: every component matched.
			return true
		}
		if p == "/" || p == "." {
			// The mount's own directories end here: the rest of an
			// absolute path leads to the mount point.
			return strings.HasPrefix(arg, "/")
		}
	}
}

// createdPathArg returns the address of the path that a system call shown
// by a line of /proc/TID/syscall ("NR ARG1 ARG2 ... SP PC", arguments in
// hex) creates, and false for calls that create nothing.
func createdPathArg(line string) (uint64, bool) {
	f := strings.Fields(line)
	if len(f) < 7 {
		return 0, false
	}
	nr, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, false
	}
	arg := func(i int) uint64 {
		v, err := strconv.ParseUint(strings.TrimPrefix(f[1+i], "0x"), 16, 64)
		if err != nil {
			return 0
		}
		return v
	}
	i := -1
	switch nr {
	case unix.SYS_OPENAT:
		if arg(2)&syscall.O_CREAT != 0 {
			i = 1
		}
	case unix.SYS_MKDIRAT, unix.SYS_MKNODAT:
		i = 1
	case unix.SYS_SYMLINKAT:
		i = 2
	case unix.SYS_LINKAT, unix.SYS_RENAMEAT2:
		i = 3
	default:
		i = legacyCreatedPathArg(nr, arg)
	}
	if i < 0 || arg(i) == 0 {
		return 0, false
	}
	return arg(i), true
}

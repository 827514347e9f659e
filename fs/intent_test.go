package fs

import "testing"

func TestCreatedPathArg(t *testing.T) {
	for _, c := range []struct {
		line string
		want uint64
	}{
		// openat(AT_FDCWD, path, O_WRONLY|O_CREAT|O_EXCL, 0644)
		{"257 0xffffff9c 0x55d0c8a1b2c0 0xc1 0x1a4 0x0 0x0 0x7ffd1e0 0x7f00", 0x55d0c8a1b2c0},
		// openat(AT_FDCWD, path, O_RDONLY)
		{"257 0xffffff9c 0x55d0c8a1b2c0 0x0 0x0 0x0 0x0 0x7ffd1e0 0x7f00", 0},
		// mkdirat
		{"258 0xffffff9c 0x55d0c8a1b2c8 0x1c0 0x0 0x0 0x0 0x7ffd1e0 0x7f00", 0x55d0c8a1b2c8},
		// renameat2(olddirfd, old, newdirfd, new, flags)
		{"316 0xffffff9c 0x1000 0xffffff9c 0x2000 0x0 0x0 0x7ffd1e0 0x7f00", 0x2000},
		// newfstatat
		{"262 0xffffff9c 0x55d0c8a1b2c0 0x7ffd 0x100 0x0 0x0 0x7ffd1e0 0x7f00", 0},
		{"running", 0},
		{"", 0},
	} {
		got, ok := createdPathArg(c.line)
		if got != c.want || ok != (c.want != 0) {
			t.Errorf("createdPathArg(%q) = %#x %v, want %#x", c.line, got, ok, c.want)
		}
	}
}

func TestPathEndsWith(t *testing.T) {
	for _, c := range []struct {
		arg, p string
		want   bool
	}{
		{"tree/go/doc/Makefile", "/tree/go/doc/Makefile", true},
		{"Makefile", "/tree/go/doc/Makefile", true},
		{"dir/", "/dir", true},
		{"/mnt/point/tree/file", "/tree/file", true},
		// An intermediate component of the path is not the name created.
		{"a/b", "/a", false},
		{"a/a", "/z/a", false},
		// A relative path that leads in from above the mount depends on
		// the working directory, which is not checked.
		{"mnt/tree/file", "/tree/file", false},
		{"other/file", "/tree/file", false},
		{"../tree/file", "/tree/file", false},
		{"./file", "/file", false},
		{"", "/file", false},
	} {
		if got := pathEndsWith(c.arg, c.p); got != c.want {
			t.Errorf("pathEndsWith(%q, %q) = %v, want %v", c.arg, c.p, got, c.want)
		}
	}
}

package integration

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixUnsupported lists the go-fuse POSIX tests that SFTP version 3 and
// the OpenSSH extensions cannot express, with the reason for each. Every
// other test in posixtest.All must pass.
var posixUnsupported = map[string]string{
	"XAttr":      "SFTP version 3 and the OpenSSH extensions carry no extended attributes",
	"XAttrLarge": "SFTP version 3 and the OpenSSH extensions carry no extended attributes",
	"Tmpfile":    "SFTP cannot create a file without a name, so O_TMPFILE fails with EOPNOTSUPP",
	// The test takes a write lock and a read lock through two descriptors
	// of one process and expects a conflict. With POSIX record locks one
	// process never conflicts with itself, and without SFTP locking the
	// kernel keeps the locks locally with exactly those semantics.
	"FcntlFlockLocksFile": "SFTP has no byte-range locks, so the kernel keeps POSIX locks locally, and two descriptors of one process do not conflict",
	// SSH_FXP_OPEN has no O_NOFOLLOW flag, so a name that the test swaps
	// for a symlink to /etc/passwd is followed by the server when the open
	// arrives after the swap. The server applies the login's permissions.
	"OpenSymlinkRace": "SFTP open always follows a symlink on the server, so a name swapped for a symlink after lookup opens the link's target",
}

// TestPOSIX runs go-fuse's POSIX conformance tests on a gosshfs mount,
// each in its own directory.
func TestPOSIX(t *testing.T) {
	// Not parallel: FdLeak counts the open file descriptors of this whole
	// test process, so no other test may run at the same time. Go starts
	// the parallel tests only after the sequential ones have finished.
	requireHarness(t)
	mnt, _ := mount(t)

	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		run := posixtest.All[name]
		t.Run(name, func(t *testing.T) {
			if reason, ok := posixUnsupported[name]; ok {
				t.Skip(reason)
			}
			dir := filepath.Join(mnt, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatalf("mkdir %s: %v", dir, err)
			}
			run(t, dir)
		})
	}
}

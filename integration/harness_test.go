package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarnessServers checks the test servers with OpenSSH's own sftp
// client, so that a broken harness is not mistaken for a gosshfs bug.
func TestHarnessServers(t *testing.T) {
	requireHarness(t)
	for _, srv := range []*sshServer{fullServer, plainServer} {
		t.Run(srv.name, func(t *testing.T) {
			dir := scratchDir(t, "harness")
			if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
				t.Fatal(err)
			}

			out, err := srv.sftpBatch("ls " + dir + "\n")
			if err != nil {
				t.Fatalf("sftp ls against %s failed: %v\n%s\nsshd log: %s", srv.name, err, out, srv.logPath)
			}
			if !strings.Contains(out, "hello.txt") {
				t.Errorf("sftp ls %s did not list hello.txt:\n%s", dir, out)
			}

			// sftp's df command needs statvfs@openssh.com, so it shows
			// whether the server denies the extensions as intended.
			out, err = srv.sftpBatch("df " + dir + "\n")
			if srv.extensions && err != nil {
				t.Errorf("sftp df against %s failed although statvfs@openssh.com is enabled: %v\n%s", srv.name, err, out)
			}
			if !srv.extensions && err == nil {
				t.Errorf("sftp df against %s succeeded although statvfs@openssh.com is denied:\n%s", srv.name, out)
			}
		})
	}
}

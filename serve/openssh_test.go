package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOpenSSHClient runs OpenSSH's sftp in batch mode against the server,
// with the generated key and known_hosts file and strict host key checking.
func TestOpenSSHClient(t *testing.T) {
	sftpPath, err := exec.LookPath("sftp")
	if err != nil {
		t.Skip("OpenSSH sftp client not installed")
	}
	umask := processUmask(t)
	ts := startServer(t, Options{})
	work := t.TempDir()
	writeFile(t, filepath.Join(ts.dir, "served.txt"), "from the server")
	local := filepath.Join(work, "local.txt")
	writeFile(t, local, "from the client")
	if err := os.Chmod(local, 0o600); err != nil {
		t.Fatal(err)
	}

	batch := strings.Join([]string{
		"put " + local + " /uploaded.txt",
		"get /served.txt " + filepath.Join(work, "downloaded.txt"),
		"rename /uploaded.txt /renamed.txt",
		"mkdir /newdir",
		"ln -s renamed.txt /link",
		"ls -l /",
		"df /",
	}, "\n") + "\n"
	batchFile := filepath.Join(work, "batch")
	writeFile(t, batchFile, batch)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sftpPath,
		"-F", "/dev/null",
		"-b", batchFile,
		"-P", strconv.Itoa(ts.addr.Port),
		"-i", ts.clientKeyPath(),
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+ts.knownHostsPath(),
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"127.0.0.1")
	out, err := cmd.CombinedOutput()
	t.Logf("sftp output:\n%s", out)
	if err != nil {
		t.Fatalf("sftp: %v", err)
	}

	if got := readFile(t, filepath.Join(ts.dir, "renamed.txt")); got != "from the client" {
		t.Errorf("uploaded file = %q, want %q", got, "from the client")
	}
	if got := modeOf(t, filepath.Join(ts.dir, "renamed.txt")).Perm(); got != 0o600 {
		t.Errorf("uploaded file mode = %#o, want the local 0600", got)
	}
	if got := readFile(t, filepath.Join(work, "downloaded.txt")); got != "from the server" {
		t.Errorf("downloaded file = %q, want %q", got, "from the server")
	}
	if got, want := modeOf(t, filepath.Join(ts.dir, "newdir")), os.ModeDir|0o777&^umask; got != want {
		t.Errorf("new directory mode = %v, want %v", got, want)
	}
	if target, err := os.Readlink(filepath.Join(ts.dir, "link")); err != nil || target != "renamed.txt" {
		t.Errorf("link target = %q, %v, want renamed.txt", target, err)
	}
	if !strings.Contains(string(out), "served.txt") {
		t.Error("ls output does not list served.txt")
	}
}

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Shared state set up once by TestMain for every test in this binary.
var (
	// repoRoot is the module root, the parent of this package's directory.
	repoRoot string
	// binary is the gosshfs executable under test.
	binary string
	// baseDir is this run's scratch directory under /tmp. Every mount point
	// and remote directory is below it, so its path also identifies the
	// daemons that this run started.
	baseDir string

	// fullServer is OpenSSH's sftp-server with all of its extensions.
	fullServer *sshServer
	// plainServer is sftp-server with the OpenSSH extensions denied.
	plainServer *sshServer

	// harnessSkipReason is set when this machine cannot run the tests
	// outside CI (not root, no /dev/fuse, ...); every test then skips.
	harnessSkipReason string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: cannot read the working directory:", err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	binary = filepath.Join(repoRoot, "bin", "gosshfs")
	// GOSSHFS_TEST_BINARY runs the tests against another program with the
	// same command line, such as sshfs, to check the tests themselves.
	if other := os.Getenv("GOSSHFS_TEST_BINARY"); other != "" {
		binary = other
	}

	if reason := missingPrerequisite(); reason != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "integration: cannot run in CI:", reason)
			return 1
		}
		harnessSkipReason = reason
		fmt.Fprintln(os.Stderr, "integration: skipping every test:", reason)
		return m.Run()
	}

	if err := buildBinaryIfMissing(); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}

	baseDir, err = makeScratchDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	keepScratch := false
	defer func() {
		if !keepScratch {
			os.RemoveAll(baseDir)
		}
	}()

	keys, err := generateKeys(filepath.Join(baseDir, "keys"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	fullServer, err = startSSHServer(baseDir, "openssh", keys, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer fullServer.stop()
	plainServer, err = startSSHServer(baseDir, "openssh-noext", keys, deniedExtensionRequests)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer plainServer.stop()

	code := m.Run()

	// Every test unmounts in its cleanup, so anything left here is a leak
	// that no single test was blamed for.
	if leaks := leakedMounts(baseDir); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "integration: mounts left under %s: %v\n", baseDir, leaks)
		for _, mnt := range leaks {
			forceUnmount(mnt)
		}
		code = 1
	}
	if pids := processesMentioning(baseDir); len(pids) > 0 {
		fmt.Fprintf(os.Stderr, "integration: gosshfs processes left running: %v\n", describeProcesses(pids))
		killProcesses(pids)
		code = 1
	}
	if leaks := leakedMounts(baseDir); len(leaks) > 0 {
		keepScratch = true // RemoveAll could hang in a dead FUSE mount.
	}
	unmountFusectlIfMounted()
	return code
}

// missingPrerequisite returns why this machine cannot run the tests, or "".
func missingPrerequisite() string {
	if os.Geteuid() != 0 {
		return "the tests must run as root (sshd, chown and FUSE mounts need it)"
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "/dev/fuse is missing (create it with: mknod /dev/fuse c 10 229)"
	}
	for _, tool := range []string{"fusermount3", "ssh-keygen", "sftp", "python3", "git", "vim", "sqlite3", "tar", "df"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed (run make test, which installs it)"
		}
	}
	if _, err := os.Stat(sshdPath); err != nil {
		return sshdPath + " is missing (apt-get install openssh-server)"
	}
	if findSFTPServer() == "" {
		return "sftp-server is missing (apt-get install openssh-server)"
	}
	return ""
}

// buildBinaryIfMissing builds bin/gosshfs when make has not built it. It
// never rebuilds an existing binary, so `make test` decides what is tested.
func buildBinaryIfMissing() error {
	if _, err := os.Stat(binary); err == nil {
		return nil
	}
	cmd := exec.Command("go", "build", "-o", binary, "./cmd/gosshfs")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("building %s failed: %v\n%s", binary, err, out)
	}
	return nil
}

// makeScratchDir creates this run's directory under /tmp. It is mode 0755
// and owned by root, so the paths below it pass permission checks of the
// servers and of root-owned files.
func makeScratchDir() (string, error) {
	dir, err := os.MkdirTemp("/tmp", "gosshfs-it-")
	if err != nil {
		return "", fmt.Errorf("cannot create the scratch directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("cannot chmod %s: %w", dir, err)
	}
	return dir, nil
}

// requireHarness skips t when the machine cannot run integration tests.
func requireHarness(t *testing.T) {
	t.Helper()
	if harnessSkipReason != "" {
		t.Skip(harnessSkipReason)
	}
}

// scratchDir creates an empty directory below baseDir for t and removes it
// when t ends. Unlike t.TempDir the path stays short and has no test name,
// and every path of the run shares the baseDir prefix.
func scratchDir(t *testing.T, label string) string {
	t.Helper()
	dir, err := os.MkdirTemp(baseDir, label+"-")
	if err != nil {
		t.Fatalf("cannot create a scratch directory: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("cannot chmod %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if isMounted(dir) {
			// The mount's own cleanup reported this; do not walk into it.
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// firstLines returns at most n lines of s, for compact failure messages.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// casesCacheTimeout is the metadata cache time, in seconds, of the mounts
// that run the shared bug cases. The cases wait this long (SETTLE) before
// they expect a change made on the server to show through the mount.
const casesCacheTimeout = 2

// casesExpectedToFailWithoutExtensions lists the shared cases that cannot
// pass against sftp-server with the OpenSSH extensions denied, with the
// missing extension and a substring of the expected FAIL line.
// Each follows from a fallback the README's table documents.
var casesExpectedToFailWithoutExtensions = map[string]expectedFailure{
	"19-statfs": {
		reason:  "without statvfs@openssh.com the mount cannot report the server's size and free space",
		message: "total size MNT",
	},
	"22-editor-save": {
		reason:  "without hardlink@openssh.com the case cannot create the hard link whose survival it checks",
		message: "hard link",
	},
}

// expectedFailure is why a case is expected to fail, and optionally a
// substring its FAIL line must contain, so that it fails for that reason.
type expectedFailure struct {
	reason  string
	message string
}

// sharedCasesScript returns the path of run-all.sh in the bug case
// directory shared/cases next to the repository. The file may be absent.
func sharedCasesScript() string {
	return filepath.Join(repoRoot, "..", "shared", "cases", "run-all.sh")
}

// TestSharedCases runs the shared bug cases against a mount of the server
// with all OpenSSH extensions. Every case must pass.
func TestSharedCases(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	runSharedCases(t, fullServer, nil)
}

// TestSharedCasesWithoutExtensions runs the shared bug cases against
// sftp-server with the OpenSSH extensions denied. The cases listed in
// casesExpectedToFailWithoutExtensions must fail; every other must pass.
func TestSharedCasesWithoutExtensions(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	runSharedCases(t, plainServer, casesExpectedToFailWithoutExtensions)
}

func runSharedCases(t *testing.T, srv *sshServer, expected map[string]expectedFailure) {
	script := sharedCasesScript()
	if _, err := os.Stat(script); err != nil {
		t.Skipf("no bug cases to run: %v", err)
	}
	m := mountServer(t, srv, "-o", "cache_timeout="+strconv.Itoa(casesCacheTimeout))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, m.mnt, m.remote)
	cmd.Env = append(os.Environ(), "SETTLE="+strconv.Itoa(casesCacheTimeout), "CASE_TIMEOUT=240")
	outBytes, err := cmd.CombinedOutput()
	output := string(outBytes)
	if ctx.Err() != nil {
		t.Fatalf("run-all.sh did not finish within 10 minutes; output so far:\n%s", output)
	}

	results := parseCaseResults(output)
	if len(results) == 0 {
		t.Fatalf("run-all.sh printed no PASS or FAIL line (%v):\n%s", err, output)
	}
	failedUnexpectedly := false
	for _, res := range results {
		want, isExpected := expected[res.name]
		switch {
		case !res.passed && !isExpected:
			t.Errorf("case %s failed: %s", res.name, res.message)
			failedUnexpectedly = true
		case !res.passed && want.message != "" && !strings.Contains(res.message, want.message):
			t.Errorf("case %s failed, as expected because %s, but with %q instead of a message containing %q", res.name, want.reason, res.message, want.message)
		case !res.passed:
			t.Logf("case %s failed as expected (%s): %s", res.name, want.reason, res.message)
		case isExpected:
			t.Errorf("case %s passed although it is listed as expected to fail (%s); remove it from the list", res.name, want.reason)
		}
	}
	for name := range expected {
		if !hasCase(results, name) {
			t.Errorf("case %s is listed as expected to fail but run-all.sh did not run it", name)
		}
	}
	if failedUnexpectedly || t.Failed() {
		t.Logf("run-all.sh output:\n%s", output)
	}
}

// caseResult is one "PASS name" or "FAIL name: message" line.
type caseResult struct {
	name    string
	passed  bool
	message string
}

// parseCaseResults returns the verdict lines of run-all.sh output. A case
// run-all.sh reports twice (its own FAIL line and a timeout line) counts
// once.
func parseCaseResults(output string) []caseResult {
	var results []caseResult
	seen := map[string]bool{}
	for _, line := range strings.Split(output, "\n") {
		var res caseResult
		switch {
		case strings.HasPrefix(line, "PASS "):
			res = caseResult{name: strings.TrimSpace(strings.TrimPrefix(line, "PASS ")), passed: true}
		case strings.HasPrefix(line, "FAIL "):
			name, message, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ":")
			res = caseResult{name: strings.TrimSpace(name), message: strings.TrimSpace(message)}
		default:
			continue
		}
		if seen[res.name] {
			continue
		}
		seen[res.name] = true
		results = append(results, res)
	}
	return results
}

func hasCase(results []caseResult, name string) bool {
	for _, res := range results {
		if res.name == name {
			return true
		}
	}
	return false
}

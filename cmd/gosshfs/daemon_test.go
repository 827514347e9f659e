package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseReport(t *testing.T) {
	if err := parseReport("ok"); err != nil {
		t.Errorf(`parseReport("ok") = %v, want nil`, err)
	}

	err := parseReport("error 4 remote directory \"/x\" not found")
	if got := exitCodeOf(err); got != 4 {
		t.Errorf("exit code = %d, want 4", got)
	}
	if err == nil || err.Error() != `remote directory "/x" not found` {
		t.Errorf("error = %v, want the daemon's message", err)
	}

	for _, line := range []string{"", "okay", "error", "error x msg", "error 0 msg", "error 300 msg", "error 3"} {
		err := parseReport(line)
		if exitCodeOf(err) != exitMount || !strings.Contains(err.Error(), "invalid report") {
			t.Errorf("parseReport(%q) = %v, want an invalid report error", line, err)
		}
	}
}

func TestReadyPipeReports(t *testing.T) {
	tests := []struct {
		name     string
		report   func(p *readyPipe)
		wantCode int
		wantErr  string
	}{
		{"success", func(p *readyPipe) { p.succeed() }, exitOK, ""},
		{"failure on one line", func(p *readyPipe) { p.fail(exitConnect, errors.New("first line\nsecond  line")) },
			exitConnect, "first line; second line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readEnd, writeEnd, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer readEnd.Close()

			p := &readyPipe{file: writeEnd}
			tt.report(p)
			if !p.reported {
				t.Error("reported = false after a report")
			}
			line, err := io.ReadAll(readEnd)
			if err != nil {
				t.Fatal(err)
			}

			got := parseReport(strings.TrimSuffix(string(line), "\n"))
			if code := exitCodeOf(got); code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			if tt.wantErr != "" && (got == nil || got.Error() != tt.wantErr) {
				t.Errorf("error = %v, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestReadyPipeParentGone(t *testing.T) {
	readEnd, writeEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	readEnd.Close()
	if err := (&readyPipe{file: writeEnd}).succeed(); err == nil {
		t.Error("succeed with no reader returned nil, want an error")
	}
}

func TestOpenReadyPipeInvalid(t *testing.T) {
	for _, value := range []string{"", "x", "2", "-1"} {
		if _, err := openReadyPipe(value); err == nil {
			t.Errorf("openReadyPipe(%q) succeeded, want an error", value)
		}
	}
}

func TestDescribeExit(t *testing.T) {
	err := exec.Command("sh", "-c", "exit 7").Run()
	if got := describeExit(err); got != "exited with status 7" {
		t.Errorf("describeExit(exit 7) = %q", got)
	}
	err = exec.Command("sh", "-c", "kill -KILL $$").Run()
	if got := describeExit(err); !strings.HasPrefix(got, "was killed by signal 9") {
		t.Errorf("describeExit(SIGKILL) = %q", got)
	}
	if got := describeExit(errors.New("boom")); got != "failed: boom" {
		t.Errorf("describeExit(other error) = %q", got)
	}
}

func TestExitCodeOf(t *testing.T) {
	if got := exitCodeOf(nil); got != exitOK {
		t.Errorf("exitCodeOf(nil) = %d", got)
	}
	if got := exitCodeOf(errors.New("flag error")); got != exitUsage {
		t.Errorf("exitCodeOf(plain error) = %d, want %d", got, exitUsage)
	}
	inner := withExitCode(exitRemoteDir, errors.New("missing"))
	if got := exitCodeOf(withExitCode(exitConnect, inner)); got != exitRemoteDir {
		t.Errorf("exitCodeOf(nested) = %d, want the inner %d", got, exitRemoteDir)
	}
	if withExitCode(exitMount, nil) != nil {
		t.Error("withExitCode(code, nil) is not nil")
	}
}

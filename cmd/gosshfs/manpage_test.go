package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestManPageListsOptions(t *testing.T) {
	page := manPage(newApp(&environment{}))
	for _, section := range []string{".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH MOUNT OPTIONS",
		".SH COMMANDS", ".SH EXIT STATUS", ".SH SEE ALSO"} {
		if !strings.Contains(page, "\n"+section+"\n") {
			t.Errorf("manual page has no %s section", section)
		}
	}
	for _, o := range visibleOptions() {
		if !strings.Contains(page, "\n\\fB"+roffEscape(o.name)+"\\fR") {
			t.Errorf("manual page does not list -o %s", o.name)
		}
	}
	for _, flag := range []string{`\-\-log\-format`, `\-\-json`, `\-z`} {
		if !strings.Contains(page, `\fB`+flag+`\fR`) {
			t.Errorf("manual page does not list %s", flag)
		}
	}
}

func TestRoffLineEscapes(t *testing.T) {
	tests := map[string]string{
		"a-b":        `a\-b`,
		`C:\path`:    `C:\epath`,
		".starts":    `\&.starts`,
		"'quote":     `\&'quote`,
		"plain text": "plain text",
	}
	for in, want := range tests {
		if got := roffLine(in); got != want {
			t.Errorf("roffLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestManPageRenders formats the page with man(1) and fails on warnings.
func TestManPageRenders(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man is not installed")
	}
	path := filepath.Join(t.TempDir(), "gosshfs.1")
	if err := os.WriteFile(path, []byte(manPage(newApp(&environment{}))), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings", "-l", path)
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("man -l %s: %v\n%s", path, err, out)
	}
	if strings.Contains(string(out), "warning:") {
		t.Errorf("man reports warnings:\n%s", out)
	}
}

// TestManPageFileUpToDate checks that docs/gosshfs.1 is what gosshfs
// manpage prints.
func TestManPageFileUpToDate(t *testing.T) {
	got, err := os.ReadFile("../../docs/gosshfs.1")
	if err != nil {
		t.Fatalf("read docs/gosshfs.1: %v", err)
	}
	if string(got) != manPage(newApp(&environment{})) {
		t.Error("docs/gosshfs.1 differs from gosshfs manpage: run make man")
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// completeBash sources the generated bash script, runs _gosshfs for a
// command line whose words bash split as words (at spaces, '=' and ':'),
// with the cursor at its end, and returns COMPREPLY.
func completeBash(t *testing.T, script string, words ...string) []string {
	t.Helper()
	line := ""
	for i, word := range words {
		if i > 0 && word != "=" && word != ":" && words[i-1] != "=" && words[i-1] != ":" {
			line += " "
		}
		line += word
	}
	if words[len(words)-1] == "" {
		line += " "
	}

	var quoted []string
	for _, word := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(word, "'", `'\''`)+"'")
	}
	driver := script + `
compopt() { :; }
COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=` + strconv.Itoa(len(words)-1) + `
_gosshfs
printf '%s\n' "${COMPREPLY[@]}"
`
	out, err := exec.Command("bash", "-c", driver, "bash", line).CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q failed: %v\n%s", line, err, out)
	}
	reply := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(reply) == 1 && reply[0] == "" {
		return nil
	}
	return reply
}

func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	script := bashCompletion(newApp(&environment{}))
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_test")
	if err := os.WriteFile(keyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		words []string
		want  []string
	}{
		{"subcommand", []string{"gosshfs", "sta"}, []string{"status"}},
		{"status flag", []string{"gosshfs", "status", "--j"}, []string{"--json"}},
		{"umount flag", []string{"gosshfs", "umount", "--l"}, []string{"--lazy"}},
		{"mount flag", []string{"gosshfs", "--log"}, []string{"--log-format"}},
		{"log format value", []string{"gosshfs", "--log-format", "j"}, []string{"json"}},
		{"option name", []string{"gosshfs", "-o", "StrictH"}, []string{"StrictHostKeyChecking="}},
		{"second option in a list", []string{"gosshfs", "-o", "ro,allow_"}, []string{"ro,allow_other"}},
		{"option value after =", []string{"gosshfs", "-o", "StrictHostKeyChecking", "=", "acc"}, []string{"accept-new"}},
		{"option values at =", []string{"gosshfs", "-o", "cache", "="}, []string{"no", "yes"}},
		{"path option", []string{"gosshfs", "-o", "IdentityFile", "=", filepath.Join(dir, "id_")}, []string{keyFile}},
		{"completion shells", []string{"gosshfs", "completion", ""}, []string{"bash", "zsh"}},
		{"remote path not completed", []string{"gosshfs", "host", ":", dir + "/"}, nil},
		{"no value for port", []string{"gosshfs", "-p", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := completeBash(t, script, tt.words...)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("completion of %q = %q, want %q", tt.words, got, tt.want)
			}
		})
	}
}

func TestBashCompletionDirectories(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "mnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := bashCompletion(newApp(&environment{}))
	got := completeBash(t, script, "gosshfs", "host", ":", "/srv", filepath.Join(dir, "m"))
	if len(got) != 1 || got[0] != filepath.Join(dir, "mnt") {
		t.Errorf("mount point completion = %q, want [%s]", got, filepath.Join(dir, "mnt"))
	}
}

func TestZshCompletionSyntax(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed")
	}
	path := filepath.Join(t.TempDir(), "_gosshfs")
	if err := os.WriteFile(path, []byte(zshCompletion(newApp(&environment{}))), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zsh", "-n", path).CombinedOutput(); err != nil {
		t.Errorf("zsh -n %s: %v\n%s", path, err, out)
	}
}

// TestCompletionFilesUpToDate checks that contrib/completion holds what
// gosshfs completion prints, so the shipped files follow the option table.
func TestCompletionFilesUpToDate(t *testing.T) {
	app := newApp(&environment{})
	files := map[string]string{
		"../../contrib/completion/gosshfs.bash": bashCompletion(app),
		"../../contrib/completion/_gosshfs":     zshCompletion(app),
	}
	for path, want := range files {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read %s: %v", path, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s differs from the generated script: run make completion", path)
		}
	}
}

func TestCompletionCommand(t *testing.T) {
	code, stdout, stderr := runCommand(t, "gosshfs", "completion", "bash")
	if code != exitOK || !strings.Contains(stdout, "complete -F _gosshfs gosshfs") {
		t.Errorf("gosshfs completion bash: status %d, stderr %q, output without the complete line", code, stderr)
	}
	code, _, stderr = runCommand(t, "gosshfs", "completion", "fish")
	if code != exitUsage || !strings.Contains(stderr, `unsupported shell "fish"`) {
		t.Errorf("gosshfs completion fish: status %d, stderr %q; want a usage error", code, stderr)
	}
}

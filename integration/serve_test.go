package integration

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServe starts `gosshfs serve` on a free port and mounts it with the
// command line it prints.
func TestServe(t *testing.T) {
	requireHarness(t)
	t.Parallel()

	served := scratchDir(t, "served")
	writeFile(t, filepath.Join(served, "existing.txt"), "served file\n", 0o644)
	stateDir := scratchDir(t, "state")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}

	server := startServe(t, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--state-dir", stateDir, served)
	printed := server.waitForMountCommand(t)
	t.Logf("gosshfs serve printed the mount command: %s", printed)

	args, err := splitShellWords(printed)
	if err != nil {
		t.Fatalf("cannot parse the printed mount command %q: %v", printed, err)
	}
	// The command names gosshfs by name when PATH finds this binary, and by
	// its full path otherwise, as for a binary built in bin/.
	if len(args) < 3 || (args[0] != "gosshfs" && args[0] != binary) {
		t.Fatalf("the printed mount command %q does not start with gosshfs or %s", printed, binary)
	}
	if !strings.Contains(printed, stateDir) {
		t.Errorf("the printed mount command does not use the key files in the state directory %s", stateDir)
	}
	if !strings.Contains(printed, strconv.Itoa(port)) {
		t.Errorf("the printed mount command does not name the port %d", port)
	}

	// Replace the printed mount point with this test's.
	m := &mountedFS{mnt: scratchDir(t, "mnt"), remote: served}
	args = append(args[1:len(args)-1], m.mnt)
	m.run(t, args)

	if got, err := os.ReadFile(filepath.Join(m.mnt, "existing.txt")); err != nil {
		t.Errorf("read a served file through the mount: %v", err)
	} else if string(got) != "served file\n" {
		t.Errorf("read a served file through the mount: got %q", got)
	}
	if err := os.WriteFile(filepath.Join(m.mnt, "new.txt"), []byte("written through the mount\n"), 0o644); err != nil {
		t.Errorf("write through the mount: %v", err)
	} else if got := readFile(t, filepath.Join(served, "new.txt")); got != "written through the mount\n" {
		t.Errorf("the served directory has %q after writing through the mount", got)
	}
}

// serveProcess is a running `gosshfs serve`.
type serveProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}

	mu     sync.Mutex
	output bytes.Buffer // stdout and stderr, as printed so far
	lines  chan string  // lines of output, closed at EOF
}

// startServe starts `gosshfs serve args...` and stops it with SIGTERM when
// t ends.
func startServe(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	reader, writer, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = writer
	cmd.Stderr = writer
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting gosshfs serve: %v", err)
	}
	writer.Close()

	s := &serveProcess{cmd: cmd, exited: make(chan struct{}), lines: make(chan string, 100)}
	go func() {
		scanner := bufio.NewScanner(io.TeeReader(reader, lockedWriter{s}))
		for scanner.Scan() {
			select {
			case s.lines <- scanner.Text():
			default: // No reader is waiting. The output buffer keeps the text.
			}
		}
		close(s.lines)
		reader.Close()
	}()
	go func() {
		cmd.Wait()
		close(s.exited)
	}()

	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(daemonExitTimeout):
			t.Errorf("gosshfs serve still running %v after SIGTERM", daemonExitTimeout)
			cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("gosshfs serve output:\n%s", s.text())
		}
	})
	return s
}

// lockedWriter appends to a serveProcess's output under its mutex.
type lockedWriter struct{ s *serveProcess }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.output.Write(p)
}

func (s *serveProcess) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// waitForMountCommand returns the first printed line whose first word ends
// in "gosshfs" and that contains IdentityFile=, trimmed.
func (s *serveProcess) waitForMountCommand(t *testing.T) string {
	t.Helper()
	timeout := time.After(commandTimeout)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("gosshfs serve ended its output without a mount command:\n%s", s.text())
			}
			line = strings.TrimSpace(line)
			first, _, _ := strings.Cut(line, " ")
			if strings.HasSuffix(first, "gosshfs") && strings.Contains(line, "IdentityFile=") {
				return line
			}
		case <-timeout:
			t.Fatalf("gosshfs serve printed no mount command within %v:\n%s", commandTimeout, s.text())
		}
	}
}

// splitShellWords splits a command line printed for a POSIX shell into
// words. It understands single quotes, double quotes without expansions
// and backslash escapes, which is what a printed command line uses.
func splitShellWords(line string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errUnterminatedQuote
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				word.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errUnterminatedQuote
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

var errUnterminatedQuote = errors.New("unterminated quote")

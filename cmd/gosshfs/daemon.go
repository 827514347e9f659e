package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The process the user starts re-executes itself as the mount daemon with
// daemonEnv set to the number of a pipe's write end. The daemon connects,
// prompting on the inherited terminal if it must, mounts, and then writes
// one line to the pipe: "ok", or "error CODE MESSAGE". The starting process
// exits with status 0 only after "ok", so a zero status means the mount
// point already works.
const (
	daemonEnv     = "GOSSHFS_DAEMON_READY_FD"
	daemonReadyFD = 3 // the first of exec.Cmd.ExtraFiles
)

// startDaemon starts the mount daemon and waits for its report.
func (e *environment) startDaemon() error {
	executable, err := os.Executable()
	if err != nil {
		return withExitCode(exitMount, fmt.Errorf("find the gosshfs executable to start the daemon: %w", err))
	}
	readEnd, writeEnd, err := os.Pipe()
	if err != nil {
		return withExitCode(exitMount, fmt.Errorf("create the daemon readiness pipe: %w", err))
	}
	defer readEnd.Close()

	cmd := exec.Command(executable)
	cmd.Args = append([]string{e.argv0}, e.args...)
	cmd.Env = append(os.Environ(), daemonEnv+"="+strconv.Itoa(daemonReadyFD))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{writeEnd}
	err = cmd.Start()
	writeEnd.Close()
	if err != nil {
		return withExitCode(exitMount, fmt.Errorf("start the mount daemon %s: %w", executable, err))
	}

	stopForwarding := forwardSignals(cmd.Process)
	defer stopForwarding()

	line, readErr := bufio.NewReader(readEnd).ReadString('\n')
	if readErr == nil || (errors.Is(readErr, io.EOF) && line != "") {
		return parseReport(strings.TrimSuffix(line, "\n"))
	}

	// The daemon closed the pipe without a report, so it has ended or is
	// about to: collect its status.
	waitErr := cmd.Wait()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == exitInterrupted {
		return withExitCode(exitInterrupted, errors.New("interrupted before the mount was ready"))
	}
	return withExitCode(exitMount, fmt.Errorf("the mount daemon (pid %d) %s before the mount was ready",
		cmd.Process.Pid, describeExit(waitErr)))
}

// forwardSignals passes SIGINT, SIGTERM and SIGHUP on to the daemon until
// the returned function is called, so that stopping the starting process,
// for example with timeout(1), also stops a daemon that has not mounted yet.
// A Ctrl-C on the terminal reaches both processes, and the daemon handles a
// second copy like the first.
func forwardSignals(daemon *os.Process) (stop func()) {
	signals := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for {
			select {
			case sig := <-signals:
				daemon.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(signals)
		close(done)
	}
}

// parseReport turns the daemon's report line into the starting process's result.
func parseReport(line string) error {
	if line == "ok" {
		return nil
	}
	rest, found := strings.CutPrefix(line, "error ")
	codeText, message, hasMessage := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if !found || !hasMessage || err != nil || code <= 0 || code > 255 {
		return withExitCode(exitMount, fmt.Errorf("the mount daemon sent an invalid report %q", line))
	}
	return withExitCode(code, errors.New(message))
}

// describeExit describes how a process ended, from exec.Cmd.Wait's error.
func describeExit(waitErr error) string {
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) {
		if waitErr == nil {
			return "exited with status 0"
		}
		return fmt.Sprintf("failed: %v", waitErr)
	}
	if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		return fmt.Sprintf("was killed by signal %d (%v)", int(status.Signal()), status.Signal())
	}
	return fmt.Sprintf("exited with status %d", exit.ExitCode())
}

// readyPipe is the daemon's end of the readiness pipe.
type readyPipe struct {
	file     *os.File
	reported bool
}

// openReadyPipe opens the pipe named by the value of daemonEnv.
func openReadyPipe(value string) (*readyPipe, error) {
	fd, err := strconv.Atoi(value)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("invalid %s=%q: expected a file descriptor number of 3 or more", daemonEnv, value)
	}
	return &readyPipe{file: os.NewFile(uintptr(fd), "readiness pipe")}, nil
}

// succeed reports a working mount. An error means the starting process has
// exited, so the user would not learn that the mount exists.
func (p *readyPipe) succeed() error {
	p.reported = true
	_, err := p.file.WriteString("ok\n")
	closeErr := p.file.Close()
	if err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("report the mount as ready to the starting process: %w", err)
	}
	return nil
}

// fail reports err, on one line, with its exit status.
func (p *readyPipe) fail(code int, err error) {
	p.reported = true
	message := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	fmt.Fprintf(p.file, "error %d %s\n", code, message)
	p.file.Close()
}

// detach moves the daemon out of the terminal's session and points its
// standard streams away from the terminal, because the starting process
// has returned to the shell. Standard error goes to logFile when one is
// open, so that panics are kept, or to /dev/null.
func detach(logFile *os.File) error {
	if _, err := syscall.Setsid(); err != nil {
		return fmt.Errorf("start a new session: %w", err)
	}

	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()

	stderrTarget := devNull
	if logFile != nil {
		stderrTarget = logFile
	}
	for fd, target := range map[int]*os.File{0: devNull, 1: devNull, 2: stderrTarget} {
		if err := unix.Dup2(int(target.Fd()), fd); err != nil {
			return fmt.Errorf("redirect file descriptor %d: %w", fd, err)
		}
	}

	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("change directory to /: %w", err)
	}
	return nil
}

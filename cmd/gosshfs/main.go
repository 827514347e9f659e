// Command gosshfs mounts a directory of an SSH server as a local file
// system through SFTP and FUSE, accepting sshfs's command line and options.
// It also unmounts (gosshfs umount) and serves a directory to gosshfs
// clients (gosshfs serve).
//
// A mount detaches once it works: the process re-executes itself as the
// mount daemon and exits with the daemon's report (see daemon.go). Exit
// statuses are listed in exitcodes.go.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes one gosshfs command line and returns the exit status.
func run(argv []string, stdout, stderr io.Writer) int {
	e := &environment{argv0: argv[0], args: argv[1:], stdout: stdout, stderr: stderr}

	args := argv[1:]
	switch filepath.Base(argv[0]) {
	case "mount.fuse.gosshfs", "mount.gosshfs":
		// mount(8) runs its helper as "mount.TYPE SOURCE TARGET -o OPTIONS".
		args, e.fake = helperArgs(args)
	}

	if value, ok := os.LookupEnv(daemonEnv); ok {
		os.Unsetenv(daemonEnv)
		ready, err := openReadyPipe(value)
		if err != nil {
			fmt.Fprintf(stderr, "gosshfs: %v\n", err)
			return exitUsage
		}
		e.ready = ready
	}

	err := newApp(e).Run(append([]string{"gosshfs"}, reorderArgs(args)...))
	if err == nil {
		return exitOK
	}

	code := exitCodeOf(err)
	if e.ready != nil && !e.ready.reported {
		// The starting process prints the message, so the daemon must not.
		e.ready.fail(code, err)
		return code
	}
	fmt.Fprintf(stderr, "gosshfs: %v\n", err)
	return code
}

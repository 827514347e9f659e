package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

// umountAction runs gosshfs umount [-z] MOUNTPOINT.
func (e *environment) umountAction(c *cli.Context) error {
	if err := checkArgCount(c, "MOUNTPOINT", 1); err != nil {
		return err
	}
	path, err := filepath.Abs(c.Args().First())
	if err != nil {
		return withExitCode(exitUsage, fmt.Errorf("invalid mount point %q: %w", c.Args().First(), err))
	}

	// A symbolic link is resolved where possible, but a disconnected mount
	// cannot be resolved, so the path as given is checked too.
	candidates := []string{path}
	if resolved, err := filepath.EvalSymlinks(path); err == nil && resolved != path {
		candidates = append(candidates, resolved)
	}
	for _, candidate := range candidates {
		mounted, err := isMounted(candidate)
		if err != nil {
			return withExitCode(exitMountPoint, err)
		}
		if mounted {
			return withExitCode(exitMount, runFusermount(candidate, c.Bool("lazy")))
		}
	}
	return withExitCode(exitMountPoint, fmt.Errorf("%q is not mounted", path))
}

// runFusermount unmounts a FUSE mount with fusermount3 -u, or with
// fusermount -u from FUSE 2 when fusermount3 is not installed. lazy adds -z.
func runFusermount(mountPoint string, lazy bool) error {
	flags := "-u"
	if lazy {
		flags = "-uz"
	}
	for _, program := range []string{"fusermount3", "fusermount"} {
		path, err := exec.LookPath(program)
		if errors.Is(err, exec.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("find %s: %w", program, err)
		}

		output, err := exec.Command(path, flags, mountPoint).CombinedOutput()
		if err == nil {
			return nil
		}
		message := strings.TrimSpace(string(output))
		if message == "" {
			message = err.Error()
		}
		err = fmt.Errorf("%s %s %s failed: %s", program, flags, shellQuote(mountPoint), message)
		if strings.Contains(message, "busy") {
			err = fmt.Errorf("%w: close the programs using the mount, or unmount lazily with gosshfs umount -z %s",
				err, shellQuote(mountPoint))
		}
		return err
	}
	return errors.New("neither fusermount3 nor fusermount was found: install fuse3")
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gosshfs/gosshfs/control"
)

// refreshTimeout bounds the refresh request to the daemon.
const refreshTimeout = 30 * time.Second

// refreshAction runs gosshfs refresh MOUNTPOINT[/PATH].
func (e *environment) refreshAction(c *cli.Context) error {
	if err := checkArgCount(c, "MOUNTPOINT[/PATH]", 1); err != nil {
		return err
	}
	arg := c.Args().First()
	path, err := filepath.Abs(arg)
	if err != nil {
		return withExitCode(exitUsage, fmt.Errorf("invalid path %q: %w", arg, err))
	}

	reports, err := collectReports(control.SocketDirs())
	if err != nil {
		return withExitCode(exitMount, err)
	}
	owner, rel, found := findOwningMount(reports, path)
	if !found {
		// The path may reach the mount through a symbolic link. Resolving
		// it walks into the mount, so it is only tried second.
		if resolved, err := filepath.EvalSymlinks(path); err == nil && resolved != path {
			owner, rel, found = findOwningMount(reports, resolved)
		}
	}
	if !found {
		return withExitCode(exitMountPoint, fmt.Errorf(
			"%q is not on a gosshfs mount of this user: gosshfs status lists the mounts", arg))
	}

	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	result, err := control.Refresh(ctx, owner.daemon.Socket, rel)
	if err != nil {
		return withExitCode(exitMount, fmt.Errorf("refresh %s: %w", path, err))
	}

	local := filepath.Join(owner.status.MountPoint, filepath.FromSlash(result.Path))
	_, err = fmt.Fprintf(e.stdout, "refreshed %s (remote %s on %s)\n", local, result.RemotePath, owner.status.Target)
	return err
}

// findOwningMount returns the mount whose mount point is the longest
// prefix of path, and path relative to it in slash form ("" for the mount
// point itself). Daemons that did not reply are skipped.
func findOwningMount(reports []daemonReport, path string) (owner daemonReport, rel string, found bool) {
	best := -1
	for _, r := range reports {
		if r.status == nil {
			continue
		}
		mountPoint := r.status.MountPoint
		rest, ok := pathBelow(path, mountPoint)
		if ok && len(mountPoint) > best {
			owner, rel, found, best = r, rest, true, len(mountPoint)
		}
	}
	return owner, rel, found
}

// pathBelow returns path relative to dir when path is dir or below it.
func pathBelow(path, dir string) (string, bool) {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	if path == dir {
		return "", true
	}
	prefix := dir
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	rest, ok := strings.CutPrefix(path, prefix)
	return filepath.ToSlash(rest), ok
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gosshfs/gosshfs/fs"
	"github.com/gosshfs/gosshfs/remote"
)

// fuseConfPath is libfuse's configuration file, read for user_allow_other.
const fuseConfPath = "/etc/fuse.conf"

// unmountGrace bounds how long a signalled daemon waits for the kernel to
// release the mount before it exits anyway.
const unmountGrace = 10 * time.Second

// mountAction runs gosshfs [mount] REMOTE MOUNTPOINT.
func (e *environment) mountAction(c *cli.Context) error {
	if c.Bool("version") {
		return e.versionAction(c)
	}
	if err := checkArgCount(c, "[user@]host:[dir] MOUNTPOINT", 2); err != nil {
		return err
	}
	e.logFormat = c.String("log-format")
	if err := checkLogFormat(e.logFormat); err != nil {
		return withExitCode(exitUsage, err)
	}
	setHomeIfUnset()

	options, _ := c.Generic("o").(*optionList)
	args := mountArgs{
		Remote:     c.Args().Get(0),
		MountPoint: c.Args().Get(1),
		Port:       c.String("port"),
		ConfigFile: c.String("ssh-config"),
		Foreground: c.Bool("foreground"),
		Debug:      c.Bool("debug"),
		Compress:   c.Bool("C"),
		Single:     c.Bool("s"),
	}
	if options != nil {
		args.Options = options.values
	}

	cfg, err := newMountConfig(args)
	if err != nil {
		return withExitCode(exitUsage, err)
	}
	return e.mount(cfg)
}

// setHomeIfUnset sets $HOME from the user database when it is unset, so
// that ~/.ssh is found. mount(8) from util-linux (checked with 2.38.1)
// starts its helpers without HOME.
func setHomeIfUnset() {
	if os.Getenv("HOME") != "" {
		return
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		os.Setenv("HOME", u.HomeDir)
	}
}

// mount checks everything that can be checked locally, then mounts in
// this process (-f, or the daemon) or starts the daemon.
func (e *environment) mount(cfg *mountConfig) error {
	if e.ready == nil {
		for _, warning := range cfg.Warnings {
			fmt.Fprintf(e.stderr, "gosshfs: %s\n", warning)
		}
	}

	mountPoint, err := checkMountPoint(cfg.MountPoint)
	if err != nil {
		return withExitCode(exitMountPoint, err)
	}
	cfg.MountPoint = mountPoint

	if cfg.Mount.AllowOther {
		if err := checkAllowOther(fuseConfPath); err != nil {
			return withExitCode(exitUsage, err)
		}
	}
	if cfg.LogFile != "" && !cfg.Foreground {
		logFile, err := openLogFile(cfg.LogFile)
		if err != nil {
			return withExitCode(exitUsage, err)
		}
		logFile.Close()
	}

	switch {
	case e.fake:
		return nil
	case e.ready != nil:
		return e.runDaemon(cfg)
	case cfg.Foreground:
		logger := newFormattedLogger(os.Stderr, e.logFormat, cfg.Mount.Debug, slog.LevelInfo)
		return e.serveMount(cfg, logger, nil, e.stderr)
	default:
		return e.startDaemon()
	}
}

// runDaemon is the detached daemon: it logs to the log file or else to the
// system log, and reports readiness on the pipe.
func (e *environment) runDaemon(cfg *mountConfig) error {
	var logFile *os.File
	var logger *slog.Logger
	if cfg.LogFile != "" {
		var err error
		logFile, err = openLogFile(cfg.LogFile)
		if err != nil {
			return withExitCode(exitUsage, err)
		}
		defer logFile.Close()
		logger = newFormattedLogger(logFile, e.logFormat, cfg.Mount.Debug, slog.LevelInfo)
	} else {
		var closeLog func()
		logger, closeLog = newSystemLogger(e.logFormat, cfg.Mount.Debug)
		defer closeLog()
	}

	ready := func() error {
		if err := detach(logFile); err != nil {
			return err
		}
		return e.ready.succeed()
	}
	return e.serveMount(cfg, logger, ready, nil)
}

// serveMount connects, mounts, calls ready (when not nil) once the mount
// works, and serves until the mount ends. SIGINT, SIGTERM and SIGHUP
// unmount and end it with status 0. interruptOutput receives the message
// for a signal during the prompts; nil leaves it to the starting process.
// daemonMemoryLimit is the soft limit given to the Go runtime: read-ahead
// and write-behind buffers come and go fast, and without a limit the heap
// may grow to twice the live data before a collection.
const daemonMemoryLimit = 100 << 20

func (e *environment) serveMount(cfg *mountConfig, logger *slog.Logger, ready func() error, interruptOutput io.Writer) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(daemonMemoryLimit)
	}
	// The daemon's memory holds unlocked keys and the password for
	// redials, so it never leaves a core dump behind.
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		logger.Debug("cannot disable core dumps", "err", err)
	}
	cfg.Remote.Logger = logger
	cfg.Client.Logger = logger
	cfg.Mount.Logger = logger

	guard := newSignalGuard(logger, interruptOutput)
	defer guard.stop()
	ctx := guard.ctx

	notify, err := notifierFromEnv()
	if err != nil {
		logger.Warn("readiness will not be reported to the service manager", "err", err)
	}

	dialer, err := remote.NewDialer(cfg.Remote)
	if err != nil {
		return withExitCode(exitConnect, err)
	}
	client, err := remote.Connect(ctx, dialer, cfg.Client)
	if err != nil {
		return withExitCode(exitConnect, err)
	}

	if err := prepareMount(ctx, cfg, client, logger); err != nil {
		closeClient(client, logger)
		return err
	}

	guard.enter(stageMounting)
	mount, err := newMount(ctx, cfg, client, logger)
	if err != nil {
		closeClient(client, logger)
		return err
	}
	guard.enter(stageMounted)
	controlServer := startControlServer(cfg, mount, logger)

	if err := notify.ready(fmt.Sprintf("Mounted %s on %s", cfg.Source, cfg.MountPoint)); err != nil {
		logger.Warn("notifying the service manager that the mount is ready failed", "err", err)
	}
	if ready != nil {
		if err := ready(); err != nil {
			logger.Error("unmounting because the readiness report failed", "err", err)
			notify.stopping("Unmounting " + cfg.MountPoint)
			closeControlServer(controlServer, logger)
			unmount(mount, cfg.MountPoint, logger)
			closeClient(client, logger)
			return withExitCode(exitMount, err)
		}
	}

	waitForUnmount(ctx, mount, cfg.MountPoint, logger, func() {
		if err := notify.stopping("Unmounting " + cfg.MountPoint); err != nil {
			logger.Warn("notifying the service manager that the mount stops failed", "err", err)
		}
		closeControlServer(controlServer, logger)
	})
	closeClient(client, logger)
	return nil
}

// prepareMount resolves the remote directory and, for idmap=user, the
// remote login's ids.
func prepareMount(ctx context.Context, cfg *mountConfig, client *remote.Client, logger *slog.Logger) error {
	dir, err := client.ResolveDir(ctx, cfg.Target.Dir)
	if err != nil {
		return withExitCode(resolveDirExitCode(err), err)
	}
	cfg.Mount.RemoteDir = dir
	logger.Debug("remote directory resolved", "dir", cfg.Target.Dir, "path", dir)

	if cfg.Mount.IDMap == "user" {
		uid, gid, err := client.RemoteIDs(ctx)
		if err != nil {
			return withExitCode(exitConnect, fmt.Errorf("idmap=user: %w", err))
		}
		cfg.Mount.RemoteUID, cfg.Mount.RemoteGID = uid, gid
	}
	return nil
}

// resolveDirExitCode separates a missing or unusable remote directory from
// a connection lost while checking it.
func resolveDirExitCode(err error) int {
	var dirErr *remote.DirError
	if errors.As(err, &dirErr) && !errors.Is(err, remote.ErrNotConnected) {
		return exitRemoteDir
	}
	return exitConnect
}

// newMount mounts and checks that the kernel serves the mount.
func newMount(ctx context.Context, cfg *mountConfig, client *remote.Client, logger *slog.Logger) (*fs.Mount, error) {
	mount, err := fs.NewMount(cfg.MountPoint, client, cfg.Mount)
	if err != nil {
		return nil, withExitCode(exitMount, err)
	}

	// NewMount does not take the context, so a signal that arrived while it
	// ran is handled here.
	if ctx.Err() != nil {
		unmount(mount, cfg.MountPoint, logger)
		return nil, withExitCode(exitInterrupted, errors.New("interrupted before the mount was ready"))
	}

	if _, err := os.Stat(cfg.MountPoint); err != nil {
		unmount(mount, cfg.MountPoint, logger)
		return nil, withExitCode(exitMount, fmt.Errorf("mount at %q does not respond: %w", cfg.MountPoint, err))
	}
	return mount, nil
}

// waitForUnmount blocks until the mount is unmounted from outside, for
// example by fusermount3 -u, or until a signal cancels ctx, and then unmounts.
// It calls stopping once either has happened, before unmounting.
func waitForUnmount(ctx context.Context, mount *fs.Mount, mountPoint string, logger *slog.Logger, stopping func()) {
	done := make(chan struct{})
	go func() {
		mount.Wait()
		close(done)
	}()

	select {
	case <-done:
		stopping()
		logger.Info("unmounted", "mountpoint", mountPoint)
		return
	case <-ctx.Done():
	}

	stopping()
	unmount(mount, mountPoint, logger)
	select {
	case <-done:
		logger.Info("unmounted", "mountpoint", mountPoint)
	case <-time.After(unmountGrace):
		logger.Warn("the kernel has not released the mount yet; exiting anyway",
			"mountpoint", mountPoint, "waited", unmountGrace)
	}
}

// unmount ends the mount, falling back to a lazy fusermount3 -uz when
// Unmount fails, for example because a file on the mount is open.
func unmount(mount *fs.Mount, mountPoint string, logger *slog.Logger) {
	err := mount.Unmount()
	if err == nil {
		return
	}
	logger.Warn("unmount failed; trying a lazy unmount", "mountpoint", mountPoint, "err", err)
	if err := runFusermount(mountPoint, true); err != nil {
		logger.Error("lazy unmount failed", "mountpoint", mountPoint, "err", err)
	}
}

func closeClient(client *remote.Client, logger *slog.Logger) {
	if err := client.Close(); err != nil {
		logger.Warn("closing the SFTP connections failed", "err", err)
	}
}

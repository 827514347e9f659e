package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/gosshfs/gosshfs/serve"
)

// serveAction runs gosshfs serve DIR until SIGINT or SIGTERM.
func (e *environment) serveAction(c *cli.Context) error {
	if err := checkArgCount(c, "DIR", 1); err != nil {
		return err
	}
	dir, err := filepath.Abs(c.Args().First())
	if err != nil {
		return withExitCode(exitUsage, fmt.Errorf("invalid directory %q: %w", c.Args().First(), err))
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	err = serve.Run(ctx, serve.Options{
		Dir:            dir,
		Listen:         c.String("listen"),
		AuthorizedKeys: c.String("authorized-keys"),
		StateDir:       c.String("state-dir"),
		Logger:         newLogger(os.Stderr, c.Bool("debug"), slog.LevelInfo),
		Stdout:         e.stdout,
		Command:        commandName(),
	})
	return withExitCode(exitServe, err)
}

// commandName returns how to call this gosshfs binary: its plain name when
// that is what PATH finds, and its full path otherwise (a binary built in
// bin/ and not installed).
func commandName() string {
	self, err := os.Executable()
	if err != nil {
		return "gosshfs"
	}
	if found, err := exec.LookPath("gosshfs"); err == nil {
		if a, err1 := filepath.EvalSymlinks(found); err1 == nil {
			if b, err2 := filepath.EvalSymlinks(self); err2 == nil && a == b {
				return "gosshfs"
			}
		}
	}
	return self
}

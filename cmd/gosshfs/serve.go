package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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
	})
	return withExitCode(exitServe, err)
}

package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// newLogger returns a text logger on w at level, or at debug level when
// debug is set.
func newLogger(w io.Writer, debug bool, level slog.Level) *slog.Logger {
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// openLogFile opens path for appending, creating it readable only by its
// owner because logs name hosts, users and paths.
func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open log file: %w", err)
	}
	return f, nil
}

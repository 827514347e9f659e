// Package serve runs a small SFTP-only SSH server for one directory.
package serve

import (
	"context"
	"errors"
	"log/slog"
)

// Options configure Run.
type Options struct {
	// Dir is the directory served; clients can reach nothing outside it.
	Dir string
	// Listen is the TCP address; "" means 127.0.0.1:2222.
	Listen string
	// AuthorizedKeys is the authorized_keys file; "" means a generated
	// client key whose path Run prints.
	AuthorizedKeys string
	// StateDir keeps the host key and any generated client key; "" means
	// $XDG_CONFIG_HOME/gosshfs/serve (or ~/.config/gosshfs/serve).
	StateDir string
	Logger   *slog.Logger
}

// Run serves until ctx is cancelled.
func Run(ctx context.Context, o Options) error { return errors.New("serve: not implemented yet") }

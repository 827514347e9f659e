package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/gosshfs/gosshfs/control"
	"github.com/gosshfs/gosshfs/fs"
)

// pingTimeout bounds the round-trip measurement of a status request, so
// that gosshfs status stays quick while a connection is being redialled.
const pingTimeout = 2 * time.Second

// mountController carries out control requests for the mount this daemon
// serves.
type mountController struct {
	mount      *fs.Mount
	mountPoint string
	source     string
	remoteDir  string
	started    time.Time
}

// startControlServer starts the control socket of this daemon. A failure
// is logged and leaves the mount running without one, because the socket
// only serves gosshfs status and refresh.
func startControlServer(cfg *mountConfig, mount *fs.Mount, logger *slog.Logger) *control.Server {
	controller := &mountController{
		mount:      mount,
		mountPoint: cfg.MountPoint,
		source:     cfg.Source,
		remoteDir:  cfg.Mount.RemoteDir,
		started:    time.Now(),
	}
	dir := control.SocketDirs()[0]
	server, err := control.Listen(dir, os.Getpid(), controller, logger)
	if err != nil {
		logger.Warn("gosshfs status and refresh will not see this mount", "mountpoint", cfg.MountPoint, "err", err)
		return nil
	}
	logger.Debug("control socket listening", "socket", server.Path())
	return server
}

// closeControlServer closes server, which may be nil.
func closeControlServer(server *control.Server, logger *slog.Logger) {
	if server == nil {
		return
	}
	if err := server.Close(); err != nil {
		logger.Warn("closing the control socket failed", "socket", server.Path(), "err", err)
	}
}

func (c *mountController) Status(ctx context.Context) (*control.Status, error) {
	client := c.mount.Client()
	clientStats := client.Stats()
	mountStats := c.mount.Stats()

	status := &control.Status{
		PID:               os.Getpid(),
		Version:           version,
		MountPoint:        c.mountPoint,
		Source:            c.source,
		Target:            clientStats.Target,
		RemoteDir:         c.remoteDir,
		Started:           c.started,
		UptimeSeconds:     time.Since(c.started).Seconds(),
		Connected:         clientStats.Connected,
		Connections:       clientStats.Conns,
		LastError:         clientStats.LastError,
		Reconnects:        clientStats.Reconnects,
		BytesRead:         clientStats.BytesRead,
		BytesWritten:      clientStats.BytesWritten,
		CacheHits:         mountStats.CacheHits,
		CacheNegativeHits: mountStats.CacheNegatives,
		CacheMisses:       mountStats.CacheMisses,
		CacheEntries:      mountStats.CacheEntries,
	}

	if clientStats.Connected == 0 {
		status.PingError = "not connected"
		return status, nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	roundTrip, err := client.Ping(pingCtx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		status.PingError = fmt.Sprintf("no reply within %v", pingTimeout)
	case err != nil:
		status.PingError = err.Error()
	default:
		status.RoundTripSeconds = roundTrip.Seconds()
	}
	return status, nil
}

// Refresh drops the cached data of rel, a path relative to the mount
// point, and of everything below it. A ".." cannot leave the mount.
func (c *mountController) Refresh(ctx context.Context, rel string) (*control.RefreshResult, error) {
	rel = strings.TrimPrefix(path.Clean("/"+rel), "/")
	if err := c.mount.Refresh(rel); err != nil {
		return nil, fmt.Errorf("refresh %q: %w", rel, err)
	}
	return &control.RefreshResult{Path: rel, RemotePath: path.Join(c.remoteDir, rel)}, nil
}

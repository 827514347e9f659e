// Package control is the local control channel of a running gosshfs mount
// daemon. Each daemon listens on a unix socket named after its process id
// in a per-user directory (see SocketDirs). A client connects, sends one
// JSON request line and reads one JSON reply line, after which the daemon
// closes the connection.
//
// The socket directory has mode 0700 and each socket mode 0600, so only the
// user that started the daemon (and root) can query or refresh a mount.
// The server serves each connection on its own goroutine and stops taking
// new ones at Close, which also removes the socket.
package control

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Request commands.
const (
	CommandStatus  = "status"
	CommandRefresh = "refresh"
)

// Request is one client request.
type Request struct {
	Command string `json:"command"`
	// Path is the path to refresh, relative to the mount point; "" means
	// the whole mount. Only CommandRefresh reads it.
	Path string `json:"path,omitempty"`
}

// Response is the daemon's reply. Exactly one of Error, Status and Refresh
// is set.
type Response struct {
	Error   string         `json:"error,omitempty"`
	Status  *Status        `json:"status,omitempty"`
	Refresh *RefreshResult `json:"refresh,omitempty"`
}

// Status is a snapshot of one mount and its SSH connections.
type Status struct {
	PID        int    `json:"pid"`
	Version    string `json:"version"`
	MountPoint string `json:"mount_point"`
	// Source is the remote as given on the command line, [user@]host:[dir].
	Source string `json:"source"`
	// Target is the SSH server the connections go to, user@host:port.
	Target string `json:"target"`
	// RemoteDir is the absolute remote directory that the mount shows.
	RemoteDir string `json:"remote_dir"`

	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`

	// Connected counts the SSH connections that are up, of Connections.
	Connected   int `json:"connected"`
	Connections int `json:"connections"`
	// LastError is the error of the latest failed reconnect attempt, or "".
	LastError  string `json:"last_error,omitempty"`
	Reconnects uint64 `json:"reconnects"`
	// RoundTripSeconds is the duration of one SSH keepalive round trip,
	// measured for this reply. It is 0 when PingError is set.
	RoundTripSeconds float64 `json:"round_trip_seconds"`
	PingError        string  `json:"ping_error,omitempty"`

	BytesRead    uint64 `json:"bytes_read"`
	BytesWritten uint64 `json:"bytes_written"`

	// Metadata cache counters. A negative hit is a cached "does not exist".
	CacheHits         uint64 `json:"cache_hits"`
	CacheNegativeHits uint64 `json:"cache_negative_hits"`
	CacheMisses       uint64 `json:"cache_misses"`
	CacheEntries      int64  `json:"cache_entries"`
}

// CacheHitRatio returns the share of metadata lookups answered from the
// cache, negative hits included, from 0 to 1, and false when there were no
// lookups yet.
func (s *Status) CacheHitRatio() (float64, bool) {
	hits := s.CacheHits + s.CacheNegativeHits
	total := hits + s.CacheMisses
	if total == 0 {
		return 0, false
	}
	return float64(hits) / float64(total), true
}

// RefreshResult names what a refresh request dropped from the caches.
type RefreshResult struct {
	// Path is the refreshed path relative to the mount point, "" for the
	// whole mount.
	Path string `json:"path"`
	// RemotePath is the same path on the server.
	RemotePath string `json:"remote_path"`
}

// socketSuffix ends every socket name, after the daemon's process id.
const socketSuffix = ".sock"

// SocketDirs returns the directories where daemons of this user put their
// sockets, in order of preference. A daemon uses the first one, and a
// client looks in each, because a daemon started by mount(8) or systemd
// may have a different environment than the user's shell.
//
// The first is $XDG_RUNTIME_DIR/gosshfs when XDG_RUNTIME_DIR is set. The
// fallback is /run/gosshfs for root and $TMPDIR/gosshfs-UID for other
// users.
func SocketDirs() []string {
	fallback := filepath.Join(os.TempDir(), "gosshfs-"+strconv.Itoa(os.Geteuid()))
	if os.Geteuid() == 0 {
		fallback = "/run/gosshfs"
	}
	dirs := []string{}
	if runtimeDir := os.Getenv("XDG_RUNTIME_DIR"); runtimeDir != "" {
		dirs = append(dirs, filepath.Join(runtimeDir, "gosshfs"))
	}
	if len(dirs) == 0 || dirs[0] != fallback {
		dirs = append(dirs, fallback)
	}
	return dirs
}

// SocketPath returns the socket path of the daemon with process id pid in dir.
func SocketPath(dir string, pid int) string {
	return filepath.Join(dir, strconv.Itoa(pid)+socketSuffix)
}

// socketPID returns the process id in a socket file name, or false when
// name is not a socket name.
func socketPID(name string) (int, bool) {
	digits, found := strings.CutSuffix(name, socketSuffix)
	if !found {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// prepareDir creates dir with mode 0700 if it is missing and checks that it
// is a directory owned by this user that nobody else can enter. A
// directory that belongs to another user is rejected, because its owner
// could replace the sockets.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the control socket directory: %w", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check the control socket directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("control socket directory %s is not a directory", dir)
	}
	if owner, ok := fileOwner(info); ok && owner != os.Geteuid() {
		return fmt.Errorf("control socket directory %s belongs to user id %d, not to you (%d): remove it",
			dir, owner, os.Geteuid())
	}
	if info.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("set mode 0700 on the control socket directory: %w", err)
		}
	}
	return nil
}

// fileOwner returns the user id that owns the file described by info.
func fileOwner(info os.FileInfo) (int, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

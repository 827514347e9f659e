package fs

import (
	"log/slog"
	"time"
)

// Options are the mount settings. The zero value mounts read-write, visible
// only to the mounting user, with owners mapped as sshfs's idmap=none does.
type Options struct {
	// RemoteDir is the absolute remote path shown at the mount root.
	RemoteDir string
	// FSName is shown as the mount's source in /proc/mounts ("user@host:dir").
	FSName string

	ReadOnly           bool
	AllowOther         bool
	DefaultPermissions bool
	// Suid and Dev lift the default nosuid and nodev mount flags.
	Suid, Dev bool

	// UID and GID, when set, replace every file's owner and group.
	UID, GID *uint32
	// Umask, when set, is cleared from every mode shown.
	Umask *uint32
	// IDMap is "none" (show the server's numbers), "user" (show the
	// remote user's files as the local user's) or "file" (translate through
	// UIDMap and GIDMap). The zero value means "none".
	IDMap string
	// RemoteUID and RemoteGID are the remote login's ids, used by IDMap "user".
	RemoteUID, RemoteGID uint32
	// UIDMap and GIDMap are the uidfile and gidfile tables of IDMap "file".
	// A nil map leaves that kind of id untranslated.
	UIDMap, GIDMap *IDMap
	// NoMap is the IDMap "file" policy for an id missing from a non-nil
	// map. With "error" (and the zero value ""), stat of a file with such a
	// remote id and chown to such a local id fail with EPERM, as with
	// sshfs's nomap=error. With "ignore" the id passes through unchanged.
	NoMap string

	// TransformSymlinks shows absolute link targets inside RemoteDir as
	// relative ones.
	TransformSymlinks bool

	// CacheTimeout is how long attributes, listings and negative lookups
	// are trusted; 0 means DefaultCacheTimeout. A negative value disables
	// the metadata cache.
	CacheTimeout time.Duration

	// Debug logs one line per FUSE operation.
	Debug bool
	// Logger receives mount events; nil discards them.
	Logger *slog.Logger
}

// DefaultCacheTimeout is how long metadata is trusted when Options does not
// say otherwise.
const DefaultCacheTimeout = 20 * time.Second

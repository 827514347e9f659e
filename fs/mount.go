package fs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/cache"
	"github.com/gosshfs/gosshfs/remote"
)

// filesystem is the state every node shares.
type filesystem struct {
	client *remote.Client
	opts   Options
	log    *slog.Logger
	meta   *cache.Meta[remote.Attr]
	root   *Node

	// kernelTimeout is the entry and attribute timeout given to the kernel.
	kernelTimeout time.Duration
	localUID      uint32
	localGID      uint32
	// remoteUID and remoteGID own the remote login's home directory; new
	// files show them until the server's attributes are fetched.
	remoteUID, remoteGID uint32

	nextIno   atomic.Uint64
	readAhead *budget
	around    *aroundPolicy
	lister    *lister
	siblings  *siblingCache
}

// Mount is a live mount.
type Mount struct {
	server     *fuse.Server
	mountpoint string
	fs         *filesystem
}

// NewMount mounts Options.RemoteDir of client at mountpoint and returns
// once the kernel serves it.
func NewMount(mountpoint string, client *remote.Client, o Options) (*Mount, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := o.CacheTimeout
	if timeout == 0 {
		timeout = DefaultCacheTimeout
	}
	half := timeout / 2
	if timeout < 0 {
		half = 0
	}
	if o.RemoteDir == "" {
		o.RemoteDir = "/"
	}

	fsys := &filesystem{
		client:        client,
		opts:          o,
		log:           log,
		meta:          cache.NewMeta[remote.Attr](cache.Options{TTL: half}, nil),
		kernelTimeout: half,
		localUID:      uint32(os.Getuid()),
		localGID:      uint32(os.Getgid()),
		readAhead:     &budget{left: readAheadBudget},
		around:        newAroundPolicy(client.RTT()),
	}
	fsys.nextIno.Store(1)
	if uid, gid, err := client.RemoteIDs(context.Background()); err == nil {
		fsys.remoteUID, fsys.remoteGID = uid, gid
	}
	fsys.lister = newLister(fsys)
	fsys.siblings = newSiblingCache(fsys)
	fsys.root = &Node{fs: fsys, links: 1}

	zero := time.Duration(0)
	opts := &gofs.Options{
		EntryTimeout:    &half,
		AttrTimeout:     &half,
		NegativeTimeout: &zero,
		NullPermissions: true,
		RootStableAttr:  &gofs.StableAttr{Ino: 1},
		MountOptions: fuse.MountOptions{
			FsName:        o.FSName,
			Name:          "gosshfs",
			AllowOther:    o.AllowOther,
			MaxWrite:      1 << 20,
			MaxReadAhead:  1 << 20,
			MaxBackground: 64,
			DirectMount:   true,
			Options:       mountFlags(o),
			// Extended attributes have no SFTP version 3 request.
			DisableXAttrs: true,
		},
	}
	server, err := gofs.Mount(mountpoint, fsys.root, opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	log.Info("mounted", "mountpoint", mountpoint, "remote", o.FSName)
	return &Mount{server: server, mountpoint: mountpoint, fs: fsys}, nil
}

func mountFlags(o Options) []string {
	var flags []string
	if o.ReadOnly {
		flags = append(flags, "ro")
	}
	if o.DefaultPermissions {
		flags = append(flags, "default_permissions")
	}
	if !o.Suid {
		flags = append(flags, "nosuid")
	}
	if !o.Dev {
		flags = append(flags, "nodev")
	}
	return flags
}

// Wait blocks until the mount is ended, by Unmount or from outside.
func (m *Mount) Wait() { m.server.Wait() }

// Unmount ends the mount.
func (m *Mount) Unmount() error { return m.server.Unmount() }

// remotePath returns the remote path of rel, a path relative to the root.
func (f *filesystem) remotePath(rel string) string {
	if rel == "" {
		return f.opts.RemoteDir
	}
	return path.Join(f.opts.RemoteDir, rel)
}

// trace logs one FUSE operation at debug level.
func (f *filesystem) trace(ctx context.Context, op, p string, start time.Time, errno *syscall.Errno) {
	if !f.opts.Debug {
		return
	}
	f.log.Debug("fuse", "op", op, "path", p, "duration", time.Since(start).Round(time.Microsecond), "errno", errnoName(*errno))
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "OK"
	}
	return e.Error()
}

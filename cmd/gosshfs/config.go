package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/gosshfs/gosshfs/fs"
	"github.com/gosshfs/gosshfs/remote"
)

// mountArgs is a mount command line as urfave/cli parsed it, before any
// value is checked.
type mountArgs struct {
	Remote     string   // [user@]host:[dir]
	MountPoint string   // as typed
	Port       string   // -p, "" when absent
	Options    []string // -o arguments in command-line order
	ConfigFile string   // -F, "" when absent
	Foreground bool     // -f
	Debug      bool     // -d
	Compress   bool     // -C, accepted for sshfs compatibility
	Single     bool     // -s, accepted for sshfs compatibility
}

// mountConfig is everything one mount needs. The -o options fill the
// remote and fs option structs directly, so main only wires them through.
type mountConfig struct {
	Source     string // the remote argument as typed, shown as the mount's source
	Target     remoteTarget
	MountPoint string // absolute path

	Remote remote.Options
	Client remote.ClientOptions
	Mount  fs.Options

	Foreground bool   // stay attached to the terminal and log to stderr
	LogFile    string // log destination of the detached daemon; "" means none

	// Warnings are printed once, before connecting, by the process the user
	// started.
	Warnings []string

	// Option state that finish turns into Mount fields.
	cacheDisabled   bool
	cacheTimeout    time.Duration
	cacheTimeoutSet bool
	fsName          string
	uidFile         string // uidfile=, read by finish for idmap=file
	gidFile         string // gidfile=

	// jumpOpen is true while the items of one -o argument follow a
	// ProxyJump value, see isJumpContinuation.
	jumpOpen bool
}

// newMountConfig checks a mount command line and builds its configuration.
// Errors are usage errors: they name the invalid value and what is expected.
func newMountConfig(a mountArgs) (*mountConfig, error) {
	target, err := parseTarget(a.Remote)
	if err != nil {
		return nil, err
	}
	c := &mountConfig{Source: a.Remote, Target: target}
	c.Remote.Host = target.Host
	c.Remote.User = target.User

	for _, list := range a.Options {
		if err := c.applyOptionList(list); err != nil {
			return nil, err
		}
	}
	if err := c.applyFlags(a); err != nil {
		return nil, err
	}

	if a.MountPoint == "" {
		return nil, fmt.Errorf("missing mount point: see gosshfs -h")
	}
	c.MountPoint, err = filepath.Abs(a.MountPoint)
	if err != nil {
		return nil, fmt.Errorf("invalid mount point %q: %v", a.MountPoint, err)
	}

	if err := c.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyFlags applies the single-letter flags. They come after the -o
// options, so -p wins over -o Port= and -d over everything.
func (c *mountConfig) applyFlags(a mountArgs) error {
	if a.Port != "" {
		port, err := parseNumber(a.Port, 1, 65535)
		if err != nil {
			return fmt.Errorf("invalid value %q for -p: %v", a.Port, err)
		}
		c.Remote.Port = int(port)
	}

	switch a.ConfigFile {
	case "":
	case "none":
		c.Remote.ConfigFile = "none"
	default:
		path, err := parsePath(a.ConfigFile)
		if err != nil {
			return fmt.Errorf("invalid value %q for -F: %v", a.ConfigFile, err)
		}
		c.Remote.ConfigFile = path
	}

	if a.Foreground {
		c.Foreground = true
	}
	if a.Debug {
		c.Foreground = true
		c.Mount.Debug = true
	}
	if a.Compress {
		c.warn(`ignoring option "-C": compression is not supported`)
	}
	if a.Single {
		c.warn(`ignoring option "-s": gosshfs always serves requests in parallel`)
	}
	return nil
}

// finish resolves options that depend on each other.
func (c *mountConfig) finish() error {
	switch {
	case c.cacheDisabled:
		c.Mount.CacheTimeout = -1
	case c.cacheTimeoutSet && c.cacheTimeout == 0:
		// sshfs's cache_timeout=0 expires entries at once, which is no cache.
		// fs.Options reads 0 as its default, so disable the cache explicitly.
		c.Mount.CacheTimeout = -1
	case c.cacheTimeoutSet:
		c.Mount.CacheTimeout = c.cacheTimeout
	}

	c.Mount.FSName = c.Source
	if c.fsName != "" {
		c.Mount.FSName = c.fsName
	}

	if c.Remote.StrictHostKeyChecking == "no" {
		c.warn(fmt.Sprintf("warning: StrictHostKeyChecking=no: the host key of %s is not checked, "+
			"so a machine in the middle can read and change all traffic", c.Target.Host))
	}
	if c.Remote.ProxyJump != "" && c.Remote.ProxyCommand != "" {
		return fmt.Errorf("options ProxyJump and ProxyCommand exclude each other: give only one")
	}
	return c.loadIDMaps()
}

// loadIDMaps reads the uidfile and gidfile of idmap=file. As in sshfs, the
// files are ignored with other idmap values, and idmap=file needs at
// least one of them.
func (c *mountConfig) loadIDMaps() error {
	if c.Mount.IDMap != "file" {
		for _, name := range []string{"uidfile", "gidfile", "nomap"} {
			if c.hasIDMapOption(name) {
				c.warn(fmt.Sprintf("ignoring option %q: it applies only with idmap=file", name))
			}
		}
		return nil
	}
	if c.uidFile == "" && c.gidFile == "" {
		return fmt.Errorf("option idmap=file needs uidfile=FILE, gidfile=FILE or both")
	}

	var err error
	if c.Mount.UIDMap, err = c.loadIDMap(c.uidFile, fs.UserIDs); err != nil {
		return err
	}
	c.Mount.GIDMap, err = c.loadIDMap(c.gidFile, fs.GroupIDs)
	return err
}

func (c *mountConfig) hasIDMapOption(name string) bool {
	switch name {
	case "uidfile":
		return c.uidFile != ""
	case "gidfile":
		return c.gidFile != ""
	}
	return c.Mount.NoMap != ""
}

// loadIDMap reads one id file. An empty path returns a nil map, which
// leaves that kind of id untranslated.
func (c *mountConfig) loadIDMap(path string, kind fs.IDKind) (*fs.IDMap, error) {
	if path == "" {
		return nil, nil
	}
	m, skipped, err := fs.ReadIDMapFile(path, kind)
	if err != nil {
		return nil, err
	}
	for _, name := range skipped {
		c.warn(fmt.Sprintf("%sfile %s: ignoring %q, which is not a local %s", kind, path, name, idKindNoun(kind)))
	}
	return m, nil
}

func idKindNoun(kind fs.IDKind) string {
	if kind == fs.GroupIDs {
		return "group"
	}
	return "user"
}

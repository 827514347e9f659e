package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gosshfs/gosshfs/fs"
	"github.com/gosshfs/gosshfs/remote"
)

// Help sections of the -o options, in the order the help shows them.
const (
	groupSSH   = "SSH options (names match without regard to case)"
	groupMount = "Mount options"
	groupCache = "Cache and connection options"
	groupLog   = "Logging options"
)

var helpGroups = []string{groupSSH, groupMount, groupCache, groupLog}

var (
	yesNo = map[string]string{"yes": "yes", "no": "no"}

	// hostKeyChoices follows OpenSSH 9 ssh_config(5): ask becomes yes because
	// a mount cannot ask, and off, false and true are ssh's synonyms.
	hostKeyChoices = map[string]string{
		"yes": "yes", "ask": "yes", "true": "yes",
		"accept-new": "accept-new",
		"no":         "no", "off": "no", "false": "no",
	}

	idmapChoices = map[string]string{"none": "none", "user": "user", "file": "file"}
	noMapChoices = map[string]string{"ignore": "ignore", "error": "error"}
)

// honouredOptions are the -o options gosshfs acts on.
var honouredOptions = []*option{
	// SSH connection.
	{name: "Port", ssh: true, kind: kindNumber, min: 1, max: 65535, group: groupSSH,
		placeholder: "PORT", defaultText: "ssh_config or 22",
		help: "TCP port of the SSH server; -p overrides it",
		set:  func(c *mountConfig, v optionValue) error { c.Remote.Port = int(v.number); return nil }},
	{name: "User", ssh: true, kind: kindString, group: groupSSH,
		placeholder: "NAME", defaultText: "user@ of the remote, ssh_config or local user",
		help: "remote login name; wins over the user@ part of the remote",
		set:  func(c *mountConfig, v optionValue) error { c.Remote.User = v.text; return nil }},
	{name: "IdentityFile", ssh: true, kind: kindPath, group: groupSSH,
		placeholder: "FILE", defaultText: "ssh_config, then ~/.ssh/id_*",
		help: "private key to try before the default keys; repeat it to try several",
		set: func(c *mountConfig, v optionValue) error {
			c.Remote.IdentityFiles = append(c.Remote.IdentityFiles, v.text)
			return nil
		}},
	{name: "UserKnownHostsFile", ssh: true, kind: kindString, group: groupSSH,
		placeholder: "FILE...", defaultText: "~/.ssh/known_hosts",
		help: "files of known host keys, checked and updated, separated by spaces",
		set:  setKnownHostsFiles},
	{name: "StrictHostKeyChecking", ssh: true, kind: kindChoice, choices: hostKeyChoices,
		allowed: "yes, accept-new or no", group: groupSSH,
		placeholder: "yes|accept-new|no", defaultText: "ssh_config or yes",
		help: "what to do with a host key not known yet: yes rejects it, accept-new records it, no skips every check (unsafe); ask means yes",
		set: func(c *mountConfig, v optionValue) error {
			c.Remote.StrictHostKeyChecking = v.text
			return nil
		}},
	{name: "ConnectTimeout", ssh: true, kind: kindSeconds, min: 1, group: groupSSH,
		placeholder: "SECONDS", defaultText: "ssh_config or 30",
		help: "time limit for the TCP connect and SSH handshake, in seconds",
		set:  func(c *mountConfig, v optionValue) error { c.Remote.ConnectTimeout = v.duration; return nil }},
	{name: "ServerAliveInterval", ssh: true, kind: kindSeconds, min: 1, group: groupSSH,
		placeholder: "SECONDS", defaultText: "ssh_config or 15",
		help: "interval between keepalive requests to the server, in seconds",
		set:  func(c *mountConfig, v optionValue) error { c.Remote.ServerAliveInterval = v.duration; return nil }},
	{name: "ServerAliveCountMax", ssh: true, kind: kindNumber, min: 1, max: math.MaxInt32, group: groupSSH,
		placeholder: "N", defaultText: "ssh_config or 3",
		help: "unanswered keepalive requests after which the connection counts as lost",
		set:  func(c *mountConfig, v optionValue) error { c.Remote.ServerAliveCountMax = int(v.number); return nil }},
	{name: "IdentitiesOnly", ssh: true, kind: kindChoice, choices: yesNo, allowed: "yes or no", group: groupSSH,
		placeholder: "yes|no", defaultText: "ssh_config or no",
		help: "offer only the keys of the identity files, also when ssh-agent holds others",
		set:  func(c *mountConfig, v optionValue) error { c.Remote.IdentitiesOnly = v.text; return nil }},
	{name: "ProxyJump", ssh: true, kind: kindString, group: groupSSH,
		placeholder: "[USER@]HOST[:PORT][,...]", defaultText: "ssh_config or none",
		help: "jump hosts to connect through, in order, as ssh -J does. Separate hops with commas. " +
			"Every hop's host key is checked, and the IdentityFile, UserKnownHostsFile, StrictHostKeyChecking, " +
			"ConnectTimeout and ServerAlive* options apply to a hop unless ssh_config sets them for it. " +
			"none disables the ssh_config proxy",
		set: setProxyJump},
	{name: "ProxyCommand", ssh: true, kind: kindString, group: groupSSH,
		placeholder: "COMMAND", defaultText: "ssh_config or none",
		help: "command run with /bin/sh -c whose standard input and output carry the connection. " +
			"%h, %p, %r and %n are replaced by the host name, port, remote user and host as typed, " +
			`and a comma is written \,. none disables the ssh_config proxy`,
		set: func(c *mountConfig, v optionValue) error { c.Remote.ProxyCommand = v.text; return nil }},
	{name: "password_stdin", kind: kindFlag, group: groupSSH,
		help: "read the password from standard input instead of the terminal",
		set:  func(c *mountConfig, v optionValue) error { c.Remote.PasswordStdin = true; return nil }},

	// Mount.
	{name: "ro", kind: kindFlag, group: groupMount, help: "mount read-only",
		set: func(c *mountConfig, v optionValue) error { c.Mount.ReadOnly = true; return nil }},
	{name: "rw", kind: kindFlag, group: groupMount, help: "mount read-write (the default)",
		set: func(c *mountConfig, v optionValue) error { c.Mount.ReadOnly = false; return nil }},
	{name: "allow_other", kind: kindFlag, group: groupMount,
		help: "let other local users access the mount; needs user_allow_other in /etc/fuse.conf unless run as root",
		set:  func(c *mountConfig, v optionValue) error { c.Mount.AllowOther = true; return nil }},
	{name: "default_permissions", kind: kindFlag, group: groupMount,
		help: "let the kernel check access against the mode bits shown",
		set:  func(c *mountConfig, v optionValue) error { c.Mount.DefaultPermissions = true; return nil }},
	{name: "uid", kind: kindNumber, max: math.MaxUint32 - 1, group: groupMount,
		placeholder: "N", defaultText: "see idmap",
		help: "show every file as owned by this local user id",
		set: func(c *mountConfig, v optionValue) error {
			uid := uint32(v.number)
			c.Mount.UID = &uid
			return nil
		}},
	{name: "gid", kind: kindNumber, max: math.MaxUint32 - 1, group: groupMount,
		placeholder: "N", defaultText: "see idmap",
		help: "show every file as owned by this local group id",
		set: func(c *mountConfig, v optionValue) error {
			gid := uint32(v.number)
			c.Mount.GID = &gid
			return nil
		}},
	{name: "umask", kind: kindOctal, max: 0o777, group: groupMount,
		placeholder: "OCTAL", defaultText: "none",
		help: "permission bits cleared from every mode shown, for example 022",
		set: func(c *mountConfig, v optionValue) error {
			umask := uint32(v.number)
			c.Mount.Umask = &umask
			return nil
		}},
	{name: "idmap", kind: kindChoice, choices: idmapChoices, allowed: "none, user or file", group: groupMount,
		placeholder: "none|user|file", defaultText: "none",
		help: "owner mapping: none shows the server's user and group ids, user shows the remote login's files as yours, " +
			"file translates ids through uidfile and gidfile",
		set: func(c *mountConfig, v optionValue) error { c.Mount.IDMap = v.text; return nil }},
	{name: "uidfile", kind: kindPath, group: groupMount,
		placeholder: "FILE", defaultText: "none",
		help: "idmap=file table of users, one name:id line each, where name is a local user and id the remote uid " +
			"it stands for; passwd(5) lines work too; the file must be yours and not writable by others",
		set: func(c *mountConfig, v optionValue) error { c.uidFile = v.text; return nil }},
	{name: "gidfile", kind: kindPath, group: groupMount,
		placeholder: "FILE", defaultText: "none",
		help: "idmap=file table of groups, one name:id line each, where name is a local group and id the remote gid",
		set:  func(c *mountConfig, v optionValue) error { c.gidFile = v.text; return nil }},
	{name: "nomap", kind: kindChoice, choices: noMapChoices, allowed: "ignore or error", group: groupMount,
		placeholder: "ignore|error", defaultText: "error",
		help: "what idmap=file does with an id missing from its file: error fails stat of such files and chown to " +
			"such ids with EPERM, ignore shows and sends the id unchanged",
		set: func(c *mountConfig, v optionValue) error { c.Mount.NoMap = v.text; return nil }},
	{name: "suid", kind: kindFlag, group: groupMount, help: "honour set-user-id and set-group-id bits",
		set: func(c *mountConfig, v optionValue) error { c.Mount.Suid = true; return nil }},
	{name: "nosuid", kind: kindFlag, group: groupMount, help: "ignore set-user-id and set-group-id bits (the default)",
		set: func(c *mountConfig, v optionValue) error { c.Mount.Suid = false; return nil }},
	{name: "dev", kind: kindFlag, group: groupMount, help: "honour device files",
		set: func(c *mountConfig, v optionValue) error { c.Mount.Dev = true; return nil }},
	{name: "nodev", kind: kindFlag, group: groupMount, help: "do not honour device files (the default)",
		set: func(c *mountConfig, v optionValue) error { c.Mount.Dev = false; return nil }},
	{name: "transform_symlinks", kind: kindFlag, group: groupMount,
		help: "show absolute symbolic links that point inside the remote directory as relative links",
		set:  func(c *mountConfig, v optionValue) error { c.Mount.TransformSymlinks = true; return nil }},
	{name: "fsname", kind: kindString, group: groupMount,
		placeholder: "NAME", defaultText: "the remote as typed",
		help: "source name shown in /proc/mounts and by df",
		set:  func(c *mountConfig, v optionValue) error { c.fsName = v.text; return nil }},

	// Cache and connection.
	{name: "cache", kind: kindChoice, choices: yesNo, allowed: "yes or no", group: groupCache,
		placeholder: "yes|no", defaultText: "yes",
		help: "cache file attributes, directory listings and symbolic links",
		set:  setCacheEnabled},
	{name: "dir_cache", kind: kindChoice, choices: yesNo, allowed: "yes or no", group: groupCache,
		placeholder: "yes|no", defaultText: "yes", help: "same as cache",
		set: setCacheEnabled},
	{name: "cache_timeout", kind: kindSeconds, group: groupCache,
		placeholder: "SECONDS", defaultText: seconds(fs.DefaultCacheTimeout),
		help: "how long cached metadata is trusted, in seconds; 0 disables the cache",
		set:  setCacheTimeout},
	{name: "max_conns", kind: kindNumber, min: 1, max: maxConns, group: groupCache,
		placeholder: "N", defaultText: strconv.Itoa(remote.DefaultMaxConns),
		help: "number of SSH connections used in parallel, 1 to 64",
		set:  func(c *mountConfig, v optionValue) error { c.Client.MaxConns = int(v.number); return nil }},
	{name: "timeout", kind: kindSeconds, min: 1, group: groupCache,
		placeholder: "SECONDS", defaultText: seconds(remote.DefaultOpTimeout),
		help: "how long an operation waits for an unreachable server before it fails, in seconds",
		set:  func(c *mountConfig, v optionValue) error { c.Client.OpTimeout = v.duration; return nil }},
	{name: "reconnect", kind: kindFlag, group: groupCache, silent: true,
		help: "accepted for sshfs compatibility; gosshfs always reconnects"},

	// Logging.
	{name: "debug", kind: kindFlag, group: groupLog,
		help: "same as -d: stay in the foreground and log every file system operation",
		set: func(c *mountConfig, v optionValue) error {
			c.Mount.Debug = true
			c.Foreground = true
			return nil
		}},
	{name: "sshfs_debug", kind: kindFlag, group: groupLog,
		help: "log every file system operation without staying in the foreground",
		set:  func(c *mountConfig, v optionValue) error { c.Mount.Debug = true; return nil }},
	{name: "logfile", kind: kindPath, group: groupLog,
		placeholder: "FILE", defaultText: "none",
		help: "file the detached daemon appends its log to (created with mode 0600)",
		set:  func(c *mountConfig, v optionValue) error { c.LogFile = v.text; return nil }},
}

// maxConns guards against typing mistakes such as max_conns=1000 opening
// that many SSH connections. It is a judgment call, not a server limit.
const maxConns = 64

// sshfsCacheTimeouts are sshfs 3.7's per-kind cache timeouts and their
// sshfs 2 spellings. gosshfs has one metadata cache timeout, so each of them
// sets it, and the last one given wins.
var sshfsCacheTimeouts = []string{
	"cache_stat_timeout", "cache_dir_timeout", "cache_link_timeout",
	"dcache_timeout", "dcache_stat_timeout", "dcache_dir_timeout", "dcache_link_timeout",
}

// seconds formats d for the help text.
func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

func setKnownHostsFiles(c *mountConfig, v optionValue) error {
	c.Remote.KnownHostsFiles = nil
	for _, file := range strings.Fields(v.text) {
		path, err := parsePath(file)
		if err != nil {
			return fmt.Errorf("invalid value %q for option \"UserKnownHostsFile\": %v", v.text, err)
		}
		c.Remote.KnownHostsFiles = append(c.Remote.KnownHostsFiles, path)
	}
	return nil
}

// setProxyJump sets the jump hosts, replacing an earlier ProxyJump. The
// hops that a comma split off follow through isJumpContinuation.
func setProxyJump(c *mountConfig, v optionValue) error {
	c.Remote.ProxyJump = v.text
	c.jumpOpen = true
	return nil
}

func setCacheEnabled(c *mountConfig, v optionValue) error {
	c.cacheDisabled = v.text == "no"
	return nil
}

func setCacheTimeout(c *mountConfig, v optionValue) error {
	c.cacheTimeout = v.duration
	c.cacheTimeoutSet = true
	return nil
}

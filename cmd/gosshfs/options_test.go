package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// configWithOptions builds a config for alice@host:/srv on /mnt with the
// given -o arguments.
func configWithOptions(t *testing.T, options ...string) *mountConfig {
	t.Helper()
	c, err := newMountConfig(mountArgs{Remote: "alice@host:/srv", MountPoint: "/mnt", Options: options})
	if err != nil {
		t.Fatalf("newMountConfig(-o %q): %v", options, err)
	}
	return c
}

func TestOptionMapping(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		options []string
		check   func(c *mountConfig) bool
	}{
		{[]string{"IdentityFile=/k/id"}, func(c *mountConfig) bool { return slices.Equal(c.Remote.IdentityFiles, []string{"/k/id"}) }},
		{[]string{"identityfile=/k/a,IDENTITYFILE=/k/b"}, func(c *mountConfig) bool {
			return slices.Equal(c.Remote.IdentityFiles, []string{"/k/a", "/k/b"})
		}},
		{[]string{"IdentityFile=~/.ssh/id_test"}, func(c *mountConfig) bool {
			return slices.Equal(c.Remote.IdentityFiles, []string{filepath.Join(home, ".ssh/id_test")})
		}},
		{[]string{"IdentityFile=keys/id"}, func(c *mountConfig) bool {
			return slices.Equal(c.Remote.IdentityFiles, []string{filepath.Join(cwd, "keys/id")})
		}},
		{[]string{"IdentityFile=%d/.ssh/id"}, func(c *mountConfig) bool {
			return slices.Equal(c.Remote.IdentityFiles, []string{"%d/.ssh/id"})
		}},
		{[]string{"port=2222"}, func(c *mountConfig) bool { return c.Remote.Port == 2222 }},
		{[]string{"Port=22"}, func(c *mountConfig) bool { return c.Remote.Port == 22 }},
		{[]string{"User=bob"}, func(c *mountConfig) bool { return c.Remote.User == "bob" }},
		{[]string{"user=bob"}, func(c *mountConfig) bool { return c.Remote.User == "bob" }},
		{[]string{"StrictHostKeyChecking=yes"}, func(c *mountConfig) bool { return c.Remote.StrictHostKeyChecking == "yes" }},
		{[]string{"StrictHostKeyChecking=accept-new"}, func(c *mountConfig) bool {
			return c.Remote.StrictHostKeyChecking == "accept-new"
		}},
		{[]string{"StrictHostKeyChecking=no"}, func(c *mountConfig) bool { return c.Remote.StrictHostKeyChecking == "no" }},
		{[]string{"StrictHostKeyChecking=ask"}, func(c *mountConfig) bool { return c.Remote.StrictHostKeyChecking == "yes" }},
		{[]string{"StrictHostKeyChecking=off"}, func(c *mountConfig) bool { return c.Remote.StrictHostKeyChecking == "no" }},
		{[]string{"stricthostkeychecking=Accept-New"}, func(c *mountConfig) bool {
			return c.Remote.StrictHostKeyChecking == "accept-new"
		}},
		{[]string{"UserKnownHostsFile=/a/kh /b/kh"}, func(c *mountConfig) bool {
			return slices.Equal(c.Remote.KnownHostsFiles, []string{"/a/kh", "/b/kh"})
		}},
		{[]string{"UserKnownHostsFile=/dev/null"}, func(c *mountConfig) bool {
			return slices.Equal(c.Remote.KnownHostsFiles, []string{"/dev/null"})
		}},
		{[]string{"ConnectTimeout=7"}, func(c *mountConfig) bool { return c.Remote.ConnectTimeout == 7*time.Second }},
		{[]string{"ConnectTimeout=1m30s"}, func(c *mountConfig) bool { return c.Remote.ConnectTimeout == 90*time.Second }},
		{[]string{"ServerAliveInterval=5"}, func(c *mountConfig) bool { return c.Remote.ServerAliveInterval == 5*time.Second }},
		{[]string{"ServerAliveCountMax=4"}, func(c *mountConfig) bool { return c.Remote.ServerAliveCountMax == 4 }},
		{[]string{"password_stdin"}, func(c *mountConfig) bool { return c.Remote.PasswordStdin }},
		{[]string{"ro"}, func(c *mountConfig) bool { return c.Mount.ReadOnly }},
		{[]string{"ro,rw"}, func(c *mountConfig) bool { return !c.Mount.ReadOnly }},
		{[]string{"allow_other"}, func(c *mountConfig) bool { return c.Mount.AllowOther }},
		{[]string{"default_permissions"}, func(c *mountConfig) bool { return c.Mount.DefaultPermissions }},
		{[]string{"uid=1000"}, func(c *mountConfig) bool { return c.Mount.UID != nil && *c.Mount.UID == 1000 }},
		{[]string{"uid=0"}, func(c *mountConfig) bool { return c.Mount.UID != nil && *c.Mount.UID == 0 }},
		{[]string{"gid=100"}, func(c *mountConfig) bool { return c.Mount.GID != nil && *c.Mount.GID == 100 }},
		{[]string{"umask=022"}, func(c *mountConfig) bool { return c.Mount.Umask != nil && *c.Mount.Umask == 0o22 }},
		{[]string{"umask=0777"}, func(c *mountConfig) bool { return c.Mount.Umask != nil && *c.Mount.Umask == 0o777 }},
		{[]string{"idmap=none"}, func(c *mountConfig) bool { return c.Mount.IDMap == "none" }},
		{[]string{"idmap=user"}, func(c *mountConfig) bool { return c.Mount.IDMap == "user" }},
		{[]string{"nomap=ignore"}, func(c *mountConfig) bool { return c.Mount.NoMap == "ignore" && len(c.Warnings) == 1 }},
		{[]string{"uidfile=/x"}, func(c *mountConfig) bool {
			return c.uidFile == "/x" && c.Mount.UIDMap == nil &&
				slices.Equal(c.Warnings, []string{`ignoring option "uidfile": it applies only with idmap=file`})
		}},
		{[]string{"IdentitiesOnly=yes"}, func(c *mountConfig) bool { return c.Remote.IdentitiesOnly == "yes" }},
		{[]string{"identitiesonly=No"}, func(c *mountConfig) bool { return c.Remote.IdentitiesOnly == "no" }},
		{[]string{"ProxyJump=alice@bastion:2222"}, func(c *mountConfig) bool {
			return c.Remote.ProxyJump == "alice@bastion:2222" && len(c.Warnings) == 0
		}},
		{[]string{"ProxyJump=a,b:23,ro"}, func(c *mountConfig) bool { return c.Remote.ProxyJump == "a,b:23" && c.Mount.ReadOnly }},
		{[]string{`ProxyJump=a\,b`}, func(c *mountConfig) bool { return c.Remote.ProxyJump == "a,b" }},
		{[]string{"ProxyJump=a", "b"}, nil},
		{[]string{"proxyjump=none"}, func(c *mountConfig) bool { return c.Remote.ProxyJump == "none" }},
		{[]string{"ProxyCommand=nc %h %p"}, func(c *mountConfig) bool { return c.Remote.ProxyCommand == "nc %h %p" }},
		{[]string{`ProxyCommand=connect -S a\,b %h %p`}, func(c *mountConfig) bool {
			return c.Remote.ProxyCommand == "connect -S a,b %h %p"
		}},
		{[]string{"debug"}, func(c *mountConfig) bool { return c.Mount.Debug && c.Foreground }},
		{[]string{"sshfs_debug"}, func(c *mountConfig) bool { return c.Mount.Debug && !c.Foreground }},
		{[]string{"logfile=/var/log/g.log"}, func(c *mountConfig) bool { return c.LogFile == "/var/log/g.log" }},
		{[]string{"max_conns=4"}, func(c *mountConfig) bool { return c.Client.MaxConns == 4 }},
		{[]string{"timeout=45"}, func(c *mountConfig) bool { return c.Client.OpTimeout == 45*time.Second }},
		{[]string{"cache_timeout=60"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == time.Minute }},
		{[]string{"cache_timeout=0"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout < 0 }},
		{[]string{"cache_stat_timeout=5"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == 5*time.Second }},
		{[]string{"cache_dir_timeout=6"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == 6*time.Second }},
		{[]string{"cache_link_timeout=7"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == 7*time.Second }},
		{[]string{"dcache_timeout=8"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == 8*time.Second }},
		{[]string{"cache_timeout=9,dcache_dir_timeout=3"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == 3*time.Second }},
		{[]string{"cache=no"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout < 0 }},
		{[]string{"dir_cache=no"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout < 0 }},
		{[]string{"cache=no,cache_timeout=30"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout < 0 }},
		{[]string{"cache=no,cache=yes"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == 0 }},
		{[]string{"cache=yes"}, func(c *mountConfig) bool { return c.Mount.CacheTimeout == 0 }},
		{[]string{"transform_symlinks"}, func(c *mountConfig) bool { return c.Mount.TransformSymlinks }},
		{[]string{"suid"}, func(c *mountConfig) bool { return c.Mount.Suid }},
		{[]string{"suid,nosuid"}, func(c *mountConfig) bool { return !c.Mount.Suid }},
		{[]string{"dev"}, func(c *mountConfig) bool { return c.Mount.Dev }},
		{[]string{"dev,nodev"}, func(c *mountConfig) bool { return !c.Mount.Dev }},
		{[]string{"fsname=backup"}, func(c *mountConfig) bool { return c.Mount.FSName == "backup" }},
		{[]string{"reconnect"}, func(c *mountConfig) bool { return len(c.Warnings) == 0 }},
		{[]string{"ro", "uid=5"}, func(c *mountConfig) bool { return c.Mount.ReadOnly && *c.Mount.UID == 5 }},
		{[]string{`comment=a\,b,ro`}, func(c *mountConfig) bool { return c.Mount.ReadOnly && len(c.Warnings) == 0 }},
	}
	for _, tt := range tests {
		if tt.check == nil {
			// The hop continuation stays within one -o argument.
			if _, err := newMountConfig(mountArgs{Remote: "h:", MountPoint: "/mnt", Options: tt.options}); err == nil {
				t.Errorf("-o %q: no error, want an unknown option error", tt.options)
			}
			continue
		}
		c := configWithOptions(t, tt.options...)
		if !tt.check(c) {
			t.Errorf("-o %q: unexpected config: remote %+v, client %+v, mount %+v, foreground %v",
				tt.options, c.Remote, c.Client, c.Mount, c.Foreground)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := configWithOptions(t)
	if c.Remote.Host != "host" {
		t.Errorf("Remote.Host = %q, want host", c.Remote.Host)
	}
	if c.Remote.User != "alice" {
		t.Errorf("Remote.User = %q, want alice", c.Remote.User)
	}
	if c.Target.Dir != "/srv" {
		t.Errorf("Target.Dir = %q, want /srv", c.Target.Dir)
	}
	if c.Mount.FSName != "alice@host:/srv" {
		t.Errorf("Mount.FSName = %q, want the remote as typed", c.Mount.FSName)
	}
	if c.MountPoint != "/mnt" {
		t.Errorf("MountPoint = %q, want /mnt", c.MountPoint)
	}
	if c.Mount.CacheTimeout != 0 || c.Mount.ReadOnly || c.Foreground || c.Mount.Debug {
		t.Errorf("unexpected non-default mount settings: %+v, foreground %v", c.Mount, c.Foreground)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", c.Warnings)
	}
}

func TestFlagsOverrideOptions(t *testing.T) {
	c, err := newMountConfig(mountArgs{
		Remote: "alice@host:", MountPoint: "/mnt", Options: []string{"Port=2200,User=bob"},
		Port: "2222", ConfigFile: "none", Debug: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Remote.Port != 2222 {
		t.Errorf("Remote.Port = %d, want -p's 2222", c.Remote.Port)
	}
	if c.Remote.User != "bob" {
		t.Errorf("Remote.User = %q, want -o User's bob", c.Remote.User)
	}
	if c.Remote.ConfigFile != "none" {
		t.Errorf("Remote.ConfigFile = %q, want none", c.Remote.ConfigFile)
	}
	if !c.Foreground || !c.Mount.Debug {
		t.Errorf("-d: Foreground = %v, Mount.Debug = %v, want both true", c.Foreground, c.Mount.Debug)
	}
}

func TestIgnoredOptionsWarnOnce(t *testing.T) {
	c := configWithOptions(t, "kernel_cache,kernel_cache", "kernel_cache,Ciphers=aes128-ctr,follow_symlinks")
	want := []string{
		`ignoring option "kernel_cache": not supported`,
		`ignoring option "Ciphers": ssh option not supported by gosshfs`,
		`ignoring option "follow_symlinks": not supported: symbolic links are shown as links`,
	}
	if !slices.Equal(c.Warnings, want) {
		t.Errorf("Warnings = %q, want %q", c.Warnings, want)
	}
}

func TestAcceptedCompatibilityOptions(t *testing.T) {
	options := []string{
		"reconnect", "follow_symlinks", "kernel_cache", "auto_cache", "compression=no", "Compression=yes",
		"Ciphers=aes128-ctr", "defaults", "noatime", "atime", "relatime", "exec", "noexec", "sync",
		"async", "dirsync", "_netdev", "noauto", "auto", "user", "users", "nofail", "nonempty",
		"x-systemd.automount", "x-systemd.idle-timeout=60", "x-gvfs-show", "comment=backup",
		"subtype=sshfs", "max_read=65536", "workaround=rename", "sshfs_sync", "no_readahead",
		"sync_readdir", "dir_cache=yes", "dcache_max_size=1000", "dcache_clean_interval=60",
		"delay_connect", "slave", "passive", "disable_hardlink", "nomap=ignore", "uidfile=/x",
		"gidfile=/x", "BatchMode=yes", "ControlMaster=auto", "ControlPath=/tmp/%C",
		"ssh_command=ssh -v", "ssh_protocol=2", "sftp_server=/usr/lib/sftp-server",
		"directport=2000", "ProxyJump=bastion", "hostname=example.com", "allow_root",
		"auto_unmount", "direct_io", "writeback_cache", "big_writes", "entry_timeout=1",
	}
	for _, option := range options {
		if _, err := newMountConfig(mountArgs{Remote: "h:", MountPoint: "/mnt", Options: []string{option}}); err != nil {
			t.Errorf("-o %s: %v", option, err)
		}
	}
}

func TestSilentOptions(t *testing.T) {
	c := configWithOptions(t, "reconnect,defaults,_netdev,noauto,auto,user,users,nofail,nonempty,exec,async,x-systemd.automount,comment=x")
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", c.Warnings)
	}
}

func TestStrictHostKeyCheckingNoWarns(t *testing.T) {
	c := configWithOptions(t, "StrictHostKeyChecking=no")
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "StrictHostKeyChecking=no") {
		t.Errorf("Warnings = %q, want one StrictHostKeyChecking=no warning", c.Warnings)
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		options []string
		port    string
		want    string
	}{
		{[]string{"foo"}, "", `unknown option "foo" in -o: see gosshfs -h`},
		{[]string{"ro,foo=1"}, "", `unknown option "foo" in -o: see gosshfs -h`},
		{[]string{"RO"}, "", `unknown option "RO" in -o: see gosshfs -h`},
		{[]string{"uid=abc"}, "", `invalid value "abc" for option "uid": expected a number from 0 to 4294967294`},
		{[]string{"uid=-1"}, "", `invalid value "-1" for option "uid": expected a number from 0 to 4294967294`},
		{[]string{"gid=4294967295"}, "", `invalid value "4294967295" for option "gid": expected a number from 0 to 4294967294`},
		{[]string{"umask=9"}, "", `invalid value "9" for option "umask": expected an octal number from 0 to 777`},
		{[]string{"umask=1000"}, "", `invalid value "1000" for option "umask": expected an octal number from 0 to 777`},
		{[]string{"port=0"}, "", `invalid value "0" for option "port": expected a number from 1 to 65535`},
		{[]string{"Port=65536"}, "", `invalid value "65536" for option "Port": expected a number from 1 to 65535`},
		{nil, "99999", `invalid value "99999" for -p: expected a number from 1 to 65535`},
		{nil, "ssh", `invalid value "ssh" for -p: expected a number from 1 to 65535`},
		{[]string{"ConnectTimeout=0"}, "", `invalid value "0" for option "ConnectTimeout": expected a time in seconds from 1 to 2147483647`},
		{[]string{"ConnectTimeout=5x"}, "", `invalid value "5x" for option "ConnectTimeout": expected a time in seconds from 1 to 2147483647`},
		{[]string{"timeout=-3"}, "", `invalid value "-3" for option "timeout": expected a time in seconds from 1 to 2147483647`},
		{[]string{"cache_timeout=99999999999"}, "", `invalid value "99999999999" for option "cache_timeout": expected a time in seconds from 0 to 2147483647`},
		{[]string{"max_conns=0"}, "", `invalid value "0" for option "max_conns": expected a number from 1 to 64`},
		{[]string{"ServerAliveCountMax=x"}, "", `invalid value "x" for option "ServerAliveCountMax": expected a number from 1 to 2147483647`},
		{[]string{"StrictHostKeyChecking=maybe"}, "", `invalid value "maybe" for option "StrictHostKeyChecking": expected yes, accept-new or no`},
		{[]string{"cache=off"}, "", `invalid value "off" for option "cache": expected yes or no`},
		{[]string{"idmap=file"}, "", `option idmap=file needs uidfile=FILE, gidfile=FILE or both`},
		{[]string{"idmap=file,nomap=ignore"}, "", `option idmap=file needs uidfile=FILE, gidfile=FILE or both`},
		{[]string{"idmap=group"}, "", `invalid value "group" for option "idmap": expected none, user or file`},
		{[]string{"nomap=maybe"}, "", `invalid value "maybe" for option "nomap": expected ignore or error`},
		{[]string{"uidfile="}, "", `invalid value "" for option "uidfile": expected a file path`},
		{[]string{"idmap=file,uidfile=/nonexistent/gosshfs-uidfile"}, "", `cannot open uidfile: open /nonexistent/gosshfs-uidfile: no such file or directory`},
		{[]string{"ProxyJump="}, "", `invalid value "" for option "ProxyJump": expected a non-empty value`},
		{[]string{"ProxyJump=a", "ProxyCommand=nc %h %p"}, "", `options ProxyJump and ProxyCommand exclude each other: give only one`},
		{[]string{"IdentitiesOnly=maybe"}, "", `invalid value "maybe" for option "IdentitiesOnly": expected yes or no`},
		{[]string{"uid"}, "", `option "uid" needs a value: write -o uid=N`},
		{[]string{"User"}, "", `option "User" needs a value: write -o User=NAME`},
		{[]string{"User="}, "", `invalid value "" for option "User": expected a non-empty value`},
		{[]string{"ro=yes"}, "", `option "ro" takes no value, but got "yes"`},
		{[]string{"logfile="}, "", `invalid value "" for option "logfile": expected a file path`},
	}
	for _, tt := range tests {
		_, err := newMountConfig(mountArgs{Remote: "h:", MountPoint: "/mnt", Options: tt.options, Port: tt.port})
		if err == nil {
			t.Errorf("-o %q -p %q: no error, want %q", tt.options, tt.port, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("-o %q -p %q: error %q, want %q", tt.options, tt.port, err, tt.want)
		}
	}
}

func TestSplitOptionList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"ro", []string{"ro"}},
		{"ro,uid=1", []string{"ro", "uid=1"}},
		{",ro,,uid=1,", []string{"ro", "uid=1"}},
		{`comment=a\,b,ro`, []string{"comment=a,b", "ro"}},
		{`x=a\\,ro`, []string{`x=a\`, "ro"}},
		{`trailing\`, []string{`trailing\`}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := splitOptionList(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitOptionList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSSHTimeSeconds(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"30", 30, true},
		{"30s", 30, true},
		{"1m30s", 90, true},
		{"1h", 3600, true},
		{"2d", 172800, true},
		{"1W", 604800, true},
		{"", 0, false},
		{"m", 0, false},
		{"1x", 0, false},
		{"-1", 0, false},
		{"2147483648", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := sshTimeSeconds(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("sshTimeSeconds(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestOptionTableConsistent(t *testing.T) {
	for _, o := range honouredOptions {
		if o.help == "" {
			t.Errorf("option %q has no help text", o.name)
		}
		if o.group == "" {
			t.Errorf("option %q has no help group", o.name)
		}
		if o.kind != kindFlag && o.placeholder == "" {
			t.Errorf("option %q takes a value but has no placeholder", o.name)
		}
		if o.set == nil && !o.silent {
			t.Errorf("option %q is listed as honoured but neither sets anything nor is silent", o.name)
		}
	}
	for _, o := range ignoredOptions {
		if o.set != nil || (!o.silent && o.ignoreReason == "") {
			t.Errorf("ignored option %q needs a reason or silent, and no set function", o.name)
		}
	}
}

func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{
		"ro", "ro,uid=1000,gid=1000,umask=022", `comment=a\,b`, "IdentityFile=/k,port=22",
		"cache=no,cache_timeout=5", "StrictHostKeyChecking=ask", "foo", "uid=", "x-systemd.automount",
		"ConnectTimeout=1m", `a\\,b`, ",,,", "ProxyJump=a,b:22,ro", `ProxyCommand=nc %h %p\,x`,
		"idmap=file,nomap=ignore", "uidfile=/dev/null,IdentitiesOnly=yes",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, list string) {
		items := splitOptionList(list)
		joined := joinOptionList(items)
		if again := splitOptionList(joined); !slices.Equal(again, items) {
			t.Fatalf("split(join(split(%q))) = %q, want %q", list, again, items)
		}

		first, firstErr := newMountConfig(mountArgs{Remote: "h:", MountPoint: "/mnt", Options: []string{list}})
		second, secondErr := newMountConfig(mountArgs{Remote: "h:", MountPoint: "/mnt", Options: []string{joined}})
		if (firstErr == nil) != (secondErr == nil) {
			t.Fatalf("-o %q error %v, but its re-joined form %q error %v", list, firstErr, joined, secondErr)
		}
		if firstErr == nil && !reflect.DeepEqual(first, second) {
			t.Fatalf("-o %q and its re-joined form %q give different configs", list, joined)
		}
		if firstErr != nil && strings.Contains(firstErr.Error(), "\n") {
			t.Fatalf("-o %q error spans lines: %q", list, firstErr)
		}
	})
}

func TestIDMapFileOptions(t *testing.T) {
	dir := t.TempDir()
	uidFile := filepath.Join(dir, "uids")
	gidFile := filepath.Join(dir, "gids")
	if err := os.WriteFile(uidFile, []byte("root:4321\nno-such-user-gosshfs:7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gidFile, []byte("root:x:5432:\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c := configWithOptions(t, "idmap=file,uidfile="+uidFile+",gidfile="+gidFile+",nomap=ignore")
	if local, ok := c.Mount.UIDMap.Local(4321); !ok || local != 0 {
		t.Errorf("UIDMap.Local(4321) = %d, %v, want root's 0", local, ok)
	}
	if local, ok := c.Mount.GIDMap.Local(5432); !ok || local != 0 {
		t.Errorf("GIDMap.Local(5432) = %d, %v, want root's 0", local, ok)
	}
	if c.Mount.NoMap != "ignore" {
		t.Errorf("NoMap = %q, want ignore", c.Mount.NoMap)
	}
	wantWarning := "uidfile " + uidFile + `: ignoring "no-such-user-gosshfs", which is not a local user`
	if !slices.Equal(c.Warnings, []string{wantWarning}) {
		t.Errorf("Warnings = %q, want %q", c.Warnings, wantWarning)
	}

	c = configWithOptions(t, "idmap=file,gidfile="+gidFile)
	if c.Mount.UIDMap != nil || c.Mount.GIDMap == nil {
		t.Errorf("gidfile only: UIDMap %v, GIDMap %v, want only a GIDMap", c.Mount.UIDMap, c.Mount.GIDMap)
	}
	if c.Mount.NoMap != "" {
		t.Errorf("NoMap = %q, want the default empty value meaning error", c.Mount.NoMap)
	}

	if err := os.Chmod(uidFile, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := newMountConfig(mountArgs{Remote: "h:", MountPoint: "/mnt", Options: []string{"idmap=file,uidfile=" + uidFile}})
	if err == nil || !strings.Contains(err.Error(), "writable by other users") {
		t.Errorf("uidfile mode 0666: error = %v, want a writable-by-others error", err)
	}
}

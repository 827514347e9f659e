package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCommand runs one gosshfs command line in-process, as argv0 would.
func runCommand(t *testing.T, argv0 string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if _, ok := os.LookupEnv(daemonEnv); ok {
		t.Fatalf("%s is set in the test environment", daemonEnv)
	}
	var out, errOut bytes.Buffer
	code = run(append([]string{argv0}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown option", []string{"-o", "bogus", "x:/", dir}, exitUsage,
			"gosshfs: unknown option \"bogus\" in -o: see gosshfs -h\n"},
		{"unknown option after positionals", []string{"x:/", dir, "-o", "ro,bogus"}, exitUsage,
			"gosshfs: unknown option \"bogus\" in -o: see gosshfs -h\n"},
		{"bad port", []string{"x:/", dir, "-p", "99999"}, exitUsage,
			"gosshfs: invalid value \"99999\" for -p: expected a number from 1 to 65535\n"},
		{"glued bad port", []string{"x:/", dir, "-p0"}, exitUsage,
			"gosshfs: invalid value \"0\" for -p: expected a number from 1 to 65535\n"},
		{"bad uid", []string{"-ouid=abc", "x:/", dir}, exitUsage,
			"gosshfs: invalid value \"abc\" for option \"uid\": expected a number from 0 to 4294967294\n"},
		{"bad umask", []string{"x:/", dir, "-o", "umask=9"}, exitUsage,
			"gosshfs: invalid value \"9\" for option \"umask\": expected an octal number from 0 to 777\n"},
		{"malformed remote", []string{"foo", dir}, exitUsage,
			"gosshfs: invalid remote \"foo\": expected [user@]host:[dir]\n"},
		{"unknown flag", []string{"-x", "h:", dir}, exitUsage,
			"gosshfs: flag provided but not defined: -x: see gosshfs -h\n"},
		{"no arguments", nil, exitUsage,
			"gosshfs: missing arguments: expected [user@]host:[dir] MOUNTPOINT: see gosshfs -h\n"},
		{"too many arguments", []string{"h:", dir, "extra"}, exitUsage,
			"gosshfs: too many arguments [\"extra\"]: expected [user@]host:[dir] MOUNTPOINT: see gosshfs -h\n"},
		{"missing mount point", []string{"h:/", missing}, exitMountPoint,
			"gosshfs: mount point \"" + missing + "\" does not exist: create it with mkdir -p " + missing + "\n"},
		{"mount point is a file", []string{"h:/", file}, exitMountPoint,
			"gosshfs: mount point \"" + file + "\" is not a directory: give an empty directory to mount on\n"},
		{"mount subcommand", []string{"mount", "h:/", missing, "-o", "ro"}, exitMountPoint,
			"gosshfs: mount point \"" + missing + "\" does not exist: create it with mkdir -p " + missing + "\n"},
		{"idmap=file", []string{"h:", dir, "-o", "idmap=file"}, exitUsage,
			"gosshfs: option idmap=file needs uidfile=FILE, gidfile=FILE or both\n"},
		{"umount not mounted", []string{"umount", dir}, exitMountPoint,
			"gosshfs: \"" + dir + "\" is not mounted\n"},
		{"umount without argument", []string{"umount"}, exitUsage,
			"gosshfs: missing arguments: expected MOUNTPOINT: see gosshfs -h\n"},
		{"serve without directory", []string{"serve"}, exitUsage,
			"gosshfs: missing arguments: expected DIR: see gosshfs -h\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(t, "gosshfs", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			if stderr != tt.wantErr {
				t.Errorf("stderr = %q, want %q", stderr, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestRunAlreadyMounted(t *testing.T) {
	if mounted, err := isMounted("/"); err != nil || !mounted {
		t.Skipf("/ is not listed in %s (err %v)", mountInfoPath, err)
	}
	code, _, stderr := runCommand(t, "gosshfs", "h:", "/")
	if code != exitMountPoint {
		t.Errorf("exit code = %d, want %d", code, exitMountPoint)
	}
	if !strings.Contains(stderr, `mount point "/" is already mounted`) {
		t.Errorf("stderr = %q, want an already mounted error", stderr)
	}
}

func TestRunVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-V"}, {"--version"}} {
		code, stdout, stderr := runCommand(t, "gosshfs", args...)
		if code != exitOK {
			t.Errorf("%q: exit code = %d, want 0", args, code)
		}
		if !strings.HasPrefix(stdout, "gosshfs "+version+"\n") {
			t.Errorf("%q: stdout = %q, want it to start with gosshfs %s", args, stdout, version)
		}
		for _, library := range []string{"\ngo-fuse ", "\npkg/sftp "} {
			if !strings.Contains(stdout, library) {
				t.Errorf("%q: stdout = %q, want a line for %s", args, stdout, strings.TrimSpace(library))
			}
		}
		if stderr != "" {
			t.Errorf("%q: stderr = %q, want nothing", args, stderr)
		}
	}
}

func TestRunHelp(t *testing.T) {
	code, stdout, _ := runCommand(t, "gosshfs", "-h")
	if code != exitOK {
		t.Errorf("exit code = %d, want 0", code)
	}
	for _, want := range []string{
		"gosshfs [user@]host:[dir] MOUNTPOINT", "MOUNT OPTIONS", "cache_timeout=SECONDS",
		"in seconds", "IdentityFile=FILE", "umask=OCTAL", "--port PORT, -p PORT", "umount",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help does not contain %q", want)
		}
	}
}

func TestRunMountHelperFake(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCommand(t, "/sbin/mount.fuse.gosshfs",
		"alice@host:/srv", dir, "-f", "-n", "-o", "rw,_netdev,kernel_cache,x-systemd.automount", "-t", "fuse.gosshfs")
	if code != exitOK {
		t.Errorf("exit code = %d, want 0 (stderr %q)", code, stderr)
	}
	if want := "gosshfs: ignoring option \"kernel_cache\": not supported\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
}

func TestRunMountHelperErrors(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCommand(t, "mount.gosshfs", "h:", dir, "-f", "-o", "bogus")
	if code != exitUsage {
		t.Errorf("exit code = %d, want %d", code, exitUsage)
	}
	if want := "gosshfs: unknown option \"bogus\" in -o: see gosshfs -h\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}

func TestRunLogFileUnwritable(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "missing", "gosshfs.log")
	code, _, stderr := runCommand(t, "mount.gosshfs", "h:", dir, "-f", "-o", "logfile="+logFile)
	if code != exitUsage {
		t.Errorf("exit code = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, "cannot open log file") {
		t.Errorf("stderr = %q, want a log file error", stderr)
	}
}

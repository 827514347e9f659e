package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	input := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
36 22 0:31 / /mnt/with\040space rw,nosuid,nodev - fuse.gosshfs alice@host:/srv rw,user_id=1000
37 22 0:32 / /mnt/back\134slash rw - tmpfs tmpfs rw
38 22 0:33 / /mnt/not\08escape rw - tmpfs tmpfs rw
short line
`
	got, err := parseMountInfo(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/", "/mnt/with space", `/mnt/back\slash`, `/mnt/not\08escape`}
	if !slices.Equal(got, want) {
		t.Errorf("parseMountInfo = %q, want %q", got, want)
	}
}

func TestUnescapeOctal(t *testing.T) {
	tests := map[string]string{
		`plain`:        "plain",
		`a\040b`:       "a b",
		`tab\011`:      "tab\t",
		`\012`:         "\n",
		`bad\9`:        `bad\9`,
		`short\04`:     `short\04`,
		`high\400`:     `high\400`,
		`two\040\040x`: "two  x",
		`end\`:         `end\`,
	}
	for in, want := range tests {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckMountPointMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing dir")
	_, err := checkMountPoint(path)
	want := `mount point "` + path + `" does not exist: create it with mkdir -p '` + path + `'`
	if err == nil || err.Error() != want {
		t.Errorf("checkMountPoint error = %v, want %q", err, want)
	}
}

func TestCheckMountPointNotDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := checkMountPoint(path)
	want := `mount point "` + path + `" is not a directory: give an empty directory to mount on`
	if err == nil || err.Error() != want {
		t.Errorf("checkMountPoint error = %v, want %q", err, want)
	}
}

func TestCheckMountPointAlreadyMounted(t *testing.T) {
	mounted, err := isMounted("/")
	if err != nil || !mounted {
		t.Skipf("/ is not listed in %s (err %v)", mountInfoPath, err)
	}
	_, err = checkMountPoint("/")
	if err == nil || !strings.Contains(err.Error(), `mount point "/" is already mounted`) {
		t.Errorf("checkMountPoint(/) error = %v, want an already mounted error", err)
	}
}

func TestCheckMountPointResolvesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	got, err := checkMountPoint(link)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(target)
	if got != want {
		t.Errorf("checkMountPoint(%q) = %q, want %q", link, got, want)
	}
}

func TestCheckAllowOther(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may always use allow_other")
	}
	dir := t.TempDir()
	with := filepath.Join(dir, "with.conf")
	without := filepath.Join(dir, "without.conf")
	os.WriteFile(with, []byte("# comment\n  user_allow_other  \n"), 0o600)
	os.WriteFile(without, []byte("#user_allow_other\nmount_max = 1000\n"), 0o600)

	if err := checkAllowOther(with); err != nil {
		t.Errorf("checkAllowOther with user_allow_other: %v", err)
	}
	if err := checkAllowOther(without); err == nil {
		t.Error("checkAllowOther without user_allow_other succeeded")
	}
	if err := checkAllowOther(filepath.Join(dir, "missing.conf")); err == nil {
		t.Error("checkAllowOther without a fuse.conf succeeded")
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"/mnt/data":   "/mnt/data",
		"/mnt/my dir": "'/mnt/my dir'",
		"/mnt/it's":   `'/mnt/it'\''s'`,
		"":            "''",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

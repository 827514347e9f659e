package fs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gosshfs/gosshfs/remote"
)

// fakeLookup returns the ids of alice (1000) and bob (1001).
func fakeLookup(name string) (uint32, bool, error) {
	switch name {
	case "alice":
		return 1000, true, nil
	case "bob":
		return 1001, true, nil
	}
	return 0, false, nil
}

func TestParseIDMap(t *testing.T) {
	input := "alice:5000\n\nbob:x:5001:5001:Bob:/home/bob:/bin/sh\r\nnobody-here:7\n"
	m, skipped, err := ParseIDMap(strings.NewReader(input), "uidfile", fakeLookup)
	if err != nil {
		t.Fatal(err)
	}
	if local, ok := m.Local(5000); !ok || local != 1000 {
		t.Errorf("Local(5000) = %d, %v, want alice's 1000", local, ok)
	}
	if local, ok := m.Local(5001); !ok || local != 1001 {
		t.Errorf("Local(5001) = %d, %v, want bob's 1001 from the passwd line", local, ok)
	}
	if remoteID, ok := m.Remote(1000); !ok || remoteID != 5000 {
		t.Errorf("Remote(1000) = %d, %v, want 5000", remoteID, ok)
	}
	if _, ok := m.Local(7); ok {
		t.Error("Local(7) is mapped, but its name has no local user")
	}
	if !slices.Equal(skipped, []string{"nobody-here"}) {
		t.Errorf("skipped = %q, want [nobody-here]", skipped)
	}
	if m.Len() != 2 {
		t.Errorf("Len() = %d, want 2", m.Len())
	}
}

func TestParseIDMapErrors(t *testing.T) {
	tests := []struct {
		input string
		want  string
	}{
		{"alice\n", `uidfile:1: invalid line "alice": expected name:id or a passwd or group line`},
		{"alice:12x\n", `uidfile:1: invalid id "12x" in line "alice:12x"`},
		{"alice:1\nbob:-1\n", `uidfile:2: invalid id "-1"`},
		{":5\n", `uidfile:1: invalid line ":5": the name is empty`},
		{"alice:4294967296\n", `uidfile:1: invalid id "4294967296"`},
	}
	for _, tt := range tests {
		_, _, err := ParseIDMap(strings.NewReader(tt.input), "uidfile", fakeLookup)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("ParseIDMap(%q) error = %v, want prefix %q", tt.input, err, tt.want)
		}
	}
}

func TestReadIDMapFileChecksMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uidfile")
	if err := os.WriteFile(path, []byte("root:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadIDMapFile(path, UserIDs)
	if err == nil || !strings.Contains(err.Error(), "writable by other users") {
		t.Errorf("ReadIDMapFile of a mode 0666 file: error = %v, want a writable-by-others error", err)
	}

	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadIDMapFile(filepath.Join(t.TempDir(), "missing"), UserIDs)
	if err == nil || !strings.Contains(err.Error(), "cannot open uidfile") {
		t.Errorf("ReadIDMapFile of a missing file: error = %v, want a cannot-open error", err)
	}
}

func TestLookupLocalIDRoot(t *testing.T) {
	id, found, err := LookupLocalID(UserIDs)("root")
	if err != nil || !found || id != 0 {
		t.Errorf("LookupLocalID(UserIDs)(root) = %d, %v, %v, want 0, true, nil", id, found, err)
	}
	_, found, err = LookupLocalID(GroupIDs)("no-such-group-gosshfs")
	if err != nil || found {
		t.Errorf("LookupLocalID(GroupIDs)(no-such-group) = found %v, err %v, want not found and no error", found, err)
	}
}

// fileMapFS is a filesystem with idmap=file mapping remote uid 5000 to local
// 1000 and remote gid 6000 to local 100.
func fileMapFS(noMap string) *filesystem {
	uids, gids := &IDMap{}, &IDMap{}
	uids.add(1000, 5000)
	gids.add(100, 6000)
	return &filesystem{opts: Options{IDMap: "file", UIDMap: uids, GIDMap: gids, NoMap: noMap}}
}

func TestIDMapFileAttributes(t *testing.T) {
	f := fileMapFS("")
	if got := f.mapUID(5000); got != 1000 {
		t.Errorf("mapUID(5000) = %d, want 1000", got)
	}
	if got := f.mapGID(6000); got != 100 {
		t.Errorf("mapGID(6000) = %d, want 100", got)
	}
	if errno := f.checkOwner(remote.Attr{UID: 5000, GID: 6000}); errno != 0 {
		t.Errorf("checkOwner(mapped owner) = %v, want 0", errno)
	}
	if errno := f.checkOwner(remote.Attr{UID: 5001, GID: 6000}); errno != syscall.EPERM {
		t.Errorf("checkOwner(unmapped uid) with nomap=error = %v, want EPERM", errno)
	}
	if errno := f.checkOwner(remote.Attr{UID: 5000, GID: 6001}); errno != syscall.EPERM {
		t.Errorf("checkOwner(unmapped gid) with nomap=error = %v, want EPERM", errno)
	}

	ignore := fileMapFS("ignore")
	if errno := ignore.checkOwner(remote.Attr{UID: 5001, GID: 6001}); errno != 0 {
		t.Errorf("checkOwner(unmapped owner) with nomap=ignore = %v, want 0", errno)
	}
	if got := ignore.mapUID(5001); got != 5001 {
		t.Errorf("mapUID(5001) with nomap=ignore = %d, want 5001 unchanged", got)
	}
}

func TestIDMapFileChown(t *testing.T) {
	f := fileMapFS("error")
	if uid, errno := f.unmapUID(1000); uid != 5000 || errno != 0 {
		t.Errorf("unmapUID(1000) = %d, %v, want 5000, 0", uid, errno)
	}
	if gid, errno := f.unmapGID(100); gid != 6000 || errno != 0 {
		t.Errorf("unmapGID(100) = %d, %v, want 6000, 0", gid, errno)
	}
	if _, errno := f.unmapUID(1001); errno != syscall.EPERM {
		t.Errorf("unmapUID(unmapped) with nomap=error = %v, want EPERM", errno)
	}
	if _, errno := f.unmapGID(101); errno != syscall.EPERM {
		t.Errorf("unmapGID(unmapped) with nomap=error = %v, want EPERM", errno)
	}

	ignore := fileMapFS("ignore")
	if uid, errno := ignore.unmapUID(1001); uid != 1001 || errno != 0 {
		t.Errorf("unmapUID(unmapped) with nomap=ignore = %d, %v, want 1001 unchanged", uid, errno)
	}
}

func TestIDMapFileWithoutGIDFile(t *testing.T) {
	uids := &IDMap{}
	uids.add(1000, 5000)
	f := &filesystem{opts: Options{IDMap: "file", UIDMap: uids}}
	if errno := f.checkOwner(remote.Attr{UID: 5000, GID: 4242}); errno != 0 {
		t.Errorf("checkOwner with no gidfile = %v, want 0: groups stay untranslated", errno)
	}
	if gid, errno := f.unmapGID(4242); gid != 4242 || errno != 0 {
		t.Errorf("unmapGID with no gidfile = %d, %v, want 4242 unchanged", gid, errno)
	}
}

func TestIDMapUserAndOverrides(t *testing.T) {
	f := &filesystem{opts: Options{IDMap: "user", RemoteUID: 5000, RemoteGID: 6000}, localUID: 1000, localGID: 100}
	if got := f.mapUID(5000); got != 1000 {
		t.Errorf("idmap=user mapUID(5000) = %d, want 1000", got)
	}
	if got := f.mapUID(7); got != 7 {
		t.Errorf("idmap=user mapUID(7) = %d, want 7 unchanged", got)
	}
	if uid, _ := f.unmapUID(1000); uid != 5000 {
		t.Errorf("idmap=user unmapUID(1000) = %d, want 5000", uid)
	}
	if gid, _ := f.unmapGID(100); gid != 6000 {
		t.Errorf("idmap=user unmapGID(100) = %d, want 6000", gid)
	}

	uid, gid, umask := uint32(42), uint32(43), uint32(0o027)
	f.opts.UID, f.opts.GID, f.opts.Umask = &uid, &gid, &umask
	var out fuse.Attr
	f.fillAttr(remote.Attr{Mode: syscall.S_IFREG | 0o777, UID: 5000, GID: 6000}, 1, &out)
	if out.Uid != 42 || out.Gid != 43 {
		t.Errorf("uid=42,gid=43: owner %d:%d, want 42:43", out.Uid, out.Gid)
	}
	if out.Mode&0o777 != 0o750 {
		t.Errorf("umask=027: mode %o, want 750", out.Mode&0o777)
	}
}

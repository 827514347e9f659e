package integration

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// localUser is a user and its own group created for one test.
type localUser struct {
	name     string
	uid, gid uint32
}

// createLocalUser adds a user with a home directory and a group of the same
// name, and removes both when t ends. The harness's sshd accepts the
// shared client key for every user, so the user can also log in remotely.
func createLocalUser(t *testing.T) localUser {
	t.Helper()
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	name := "gsfs" + hex.EncodeToString(suffix)
	if out, err := exec.Command("useradd", "-m", "-U", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s failed: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
			t.Errorf("userdel -r %s failed: %v: %s", name, err, out)
		}
	})

	// useradd locks the new account with "!", and sshd without PAM rejects
	// locked accounts even for key logins. "*" allows keys but no password.
	if out, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
		t.Fatalf("usermod -p '*' %s failed: %v: %s", name, err, out)
	}

	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("lookup of the new user %s: %v", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return localUser{name: name, uid: uint32(uid), gid: uint32(gid)}
}

// startServerForUsers starts an sshd like the harness's full server whose
// authorized_keys file every user can read, because sshd reads it as the
// user who logs in and the harness's copy is root's mode 0600 file.
func startServerForUsers(t *testing.T, name string) *sshServer {
	t.Helper()
	keys := fullServer.keys
	dir := scratchDir(t, "keys")
	pub, err := os.ReadFile(keys.authorizedKey)
	if err != nil {
		t.Fatal(err)
	}
	keys.authorizedKey = filepath.Join(dir, "authorized_keys")
	writeFile(t, keys.authorizedKey, string(pub), 0o644)

	srv, err := startSSHServer(baseDir, name+"-"+filepath.Base(dir), keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	return srv
}

// statOwner runs stat(1) on path and returns "uid:gid:mode" as it prints
// them, or the error output.
func statOwner(path string) (string, error) {
	out, err := runProgram("", nil, "stat", "-c", "%u:%g:%a", path)
	return strings.TrimSpace(out), err
}

// expectOwner fails t unless stat(1) shows path with want ("uid:gid:mode").
func expectOwner(t *testing.T, path, want, reason string) {
	t.Helper()
	got, err := statOwner(path)
	if err != nil {
		t.Errorf("stat %s failed: %v: %s", path, err, got)
		return
	}
	if got != want {
		t.Errorf("stat -c %%u:%%g:%%a %s = %s, want %s (%s)", path, got, want, reason)
	}
}

// makeOwnedFile creates path on the server side with mode 0644 and owner
// uid:gid.
func makeOwnedFile(t *testing.T, path string, uid, gid uint32) {
	t.Helper()
	writeFile(t, path, "data\n", 0o644)
	if err := os.Chown(path, int(uid), int(gid)); err != nil {
		t.Fatalf("chown %s: %v", path, err)
	}
}

func ownerString(uid, gid uint32, mode string) string {
	return strconv.FormatUint(uint64(uid), 10) + ":" + strconv.FormatUint(uint64(gid), 10) + ":" + mode
}

// TestIDMapUser logs in as a second user and mounts as root: the remote
// user's files show as root's, and chown to root sends the remote user.
func TestIDMapUser(t *testing.T) {
	requireHarness(t)
	remoteUser := createLocalUser(t)
	remote := scratchDir(t, "remote")
	if err := os.Chown(remote, int(remoteUser.uid), int(remoteUser.gid)); err != nil {
		t.Fatal(err)
	}
	makeOwnedFile(t, filepath.Join(remote, "mine"), remoteUser.uid, remoteUser.gid)
	makeOwnedFile(t, filepath.Join(remote, "other"), 4321, 4322)

	srv := startServerForUsers(t, "idmap-user")
	m := &mountedFS{mnt: scratchDir(t, "mnt"), remote: remote}
	args := append(srv.mountArgs(), "-o", "idmap=user",
		remoteUser.name+"@127.0.0.1:"+remote, m.mnt)
	m.run(t, args)

	expectOwner(t, filepath.Join(m.mnt, "mine"), "0:0:644", "the remote user's file shows as the local user's")
	expectOwner(t, filepath.Join(m.mnt, "other"), "4321:4322:644", "other owners stay unchanged")

	created := filepath.Join(m.mnt, "created")
	writeFile(t, created, "new\n", 0o644)
	expectOwner(t, created, "0:0:644", "a file created through the mount belongs to the remote user")
	expectOwner(t, filepath.Join(remote, "created"), ownerString(remoteUser.uid, remoteUser.gid, "644"), "server side of the created file")

	// The remote user may not give a file to root, so this chown only
	// succeeds when the mount sends the remote user's ids.
	if err := os.Chown(filepath.Join(m.mnt, "mine"), 0, 0); err != nil {
		t.Errorf("chown 0:0 through the mount: %v, want success because idmap=user sends the remote user", err)
	}
	expectOwner(t, filepath.Join(remote, "mine"), ownerString(remoteUser.uid, remoteUser.gid, "644"), "chown to the local user lands as the remote user")

	err := os.Chown(filepath.Join(m.mnt, "mine"), 4321, -1)
	if errnoOf(err) != syscall.EPERM {
		t.Errorf("chown to an unmapped uid as a non-root remote user: %v, want EPERM from the server", err)
	}
}

// idMapFiles writes a uidfile and a gidfile that map the local user to
// remote uid 4321 and gid 5432, and root to 0.
func idMapFiles(t *testing.T, local localUser) (uidFile, gidFile string) {
	t.Helper()
	dir := scratchDir(t, "idmap")
	uidFile = filepath.Join(dir, "uidfile")
	gidFile = filepath.Join(dir, "gidfile")
	writeFile(t, uidFile, local.name+":4321\nroot:0\n", 0o644)
	writeFile(t, gidFile, local.name+":x:5432:\nroot:0\n", 0o644)
	return uidFile, gidFile
}

func TestIDMapFileIgnore(t *testing.T) {
	requireHarness(t)
	local := createLocalUser(t)
	uidFile, gidFile := idMapFiles(t, local)
	remote := scratchDir(t, "remote")
	makeOwnedFile(t, filepath.Join(remote, "mapped"), 4321, 5432)
	makeOwnedFile(t, filepath.Join(remote, "unmapped"), 7777, 7778)
	makeOwnedFile(t, filepath.Join(remote, "plain"), 0, 0)

	m := mountRemoteDir(t, fullServer, remote,
		"-o", "idmap=file,uidfile="+uidFile+",gidfile="+gidFile+",nomap=ignore")

	expectOwner(t, filepath.Join(m.mnt, "mapped"), ownerString(local.uid, local.gid, "644"), "remote 4321:5432 is the local user in the id files")
	expectOwner(t, filepath.Join(m.mnt, "unmapped"), "7777:7778:644", "nomap=ignore shows unmapped ids unchanged")
	expectOwner(t, filepath.Join(m.mnt, "plain"), "0:0:644", "root maps to root")

	if err := os.Chown(filepath.Join(m.mnt, "plain"), int(local.uid), int(local.gid)); err != nil {
		t.Fatalf("chown to the local user through the mount: %v", err)
	}
	expectOwner(t, filepath.Join(remote, "plain"), "4321:5432:644", "chown to the local user lands as the remote ids of the id files")
	expectOwner(t, filepath.Join(m.mnt, "plain"), ownerString(local.uid, local.gid, "644"), "the mount shows the new owner mapped back")

	if err := os.Chown(filepath.Join(m.mnt, "plain"), 7777, -1); err != nil {
		t.Fatalf("chown to an unmapped uid with nomap=ignore: %v", err)
	}
	expectOwner(t, filepath.Join(remote, "plain"), "7777:5432:644", "nomap=ignore sends an unmapped uid unchanged")
}

func TestIDMapFileError(t *testing.T) {
	requireHarness(t)
	local := createLocalUser(t)
	uidFile, gidFile := idMapFiles(t, local)
	remote := scratchDir(t, "remote")
	makeOwnedFile(t, filepath.Join(remote, "mapped"), 4321, 5432)
	makeOwnedFile(t, filepath.Join(remote, "unmapped"), 7777, 5432)

	// nomap=error is the default, as in sshfs.
	m := mountRemoteDir(t, fullServer, remote, "-o", "idmap=file,uidfile="+uidFile+",gidfile="+gidFile)

	expectOwner(t, filepath.Join(m.mnt, "mapped"), ownerString(local.uid, local.gid, "644"), "mapped owner")
	var st syscall.Stat_t
	err := syscall.Lstat(filepath.Join(m.mnt, "unmapped"), &st)
	if err != syscall.EPERM {
		t.Errorf("lstat of a file whose remote owner 7777 is not in the uidfile: %v, want EPERM as sshfs's nomap=error", err)
	}

	err = os.Chown(filepath.Join(m.mnt, "mapped"), 7777, -1)
	if errnoOf(err) != syscall.EPERM {
		t.Errorf("chown to a local uid missing from the uidfile: %v, want EPERM", err)
	}
	expectOwner(t, filepath.Join(remote, "mapped"), "4321:5432:644", "a rejected chown leaves the server unchanged")

	if err := os.Chown(filepath.Join(m.mnt, "mapped"), 0, 0); err != nil {
		t.Fatalf("chown to root, which the id files map: %v", err)
	}
	expectOwner(t, filepath.Join(remote, "mapped"), "0:0:644", "root maps to remote 0")
}

func TestIDMapOverrides(t *testing.T) {
	requireHarness(t)
	local := createLocalUser(t)
	remote := scratchDir(t, "remote")
	makeOwnedFile(t, filepath.Join(remote, "file"), 0, 0)
	if err := os.Chmod(filepath.Join(remote, "file"), 0o666); err != nil {
		t.Fatal(err)
	}

	m := mountRemoteDir(t, fullServer, remote, "-o", "idmap=user",
		"-o", "uid="+strconv.FormatUint(uint64(local.uid), 10)+",gid="+strconv.FormatUint(uint64(local.gid), 10)+",umask=027")

	expectOwner(t, filepath.Join(m.mnt, "file"), ownerString(local.uid, local.gid, "640"), "uid= and gid= replace every owner and umask=027 clears bits")
	expectOwner(t, filepath.Join(remote, "file"), "0:0:666", "the overrides change only what the mount shows")
}

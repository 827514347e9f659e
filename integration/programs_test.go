package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// gitEnv makes git independent of the machine's configuration.
var gitEnv = []string{
	"GIT_CONFIG_NOSYSTEM=1",
	"GIT_CONFIG_GLOBAL=/dev/null",
	"GIT_AUTHOR_NAME=Integration Test",
	"GIT_AUTHOR_EMAIL=test@example.invalid",
	"GIT_COMMITTER_NAME=Integration Test",
	"GIT_COMMITTER_EMAIL=test@example.invalid",
}

// runGit runs git with gitEnv in dir and fails t when it fails.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := runProgram(dir, gitEnv, "git", args...)
	if err != nil {
		t.Fatalf("git %s (in %s) failed: %v\n%s", strings.Join(args, " "), dir, err, firstLines(out, 40))
	}
	return out
}

// TestPrograms runs everyday programs on a mount and checks their results
// on the server side.
func TestPrograms(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	m := mountServer(t, fullServer)
	e := &opsEnv{srv: fullServer, mnt: m.mnt, remote: m.remote}

	t.Run("Git", e.testGit)
	t.Run("Tar", e.testTar)
	t.Run("CpArchive", e.testCpArchive)
	t.Run("Vim", e.testVim)
	t.Run("Sqlite", e.testSqlite)
}

func (e *opsEnv) testGit(t *testing.T) {
	mnt, remote := e.dirs(t)
	source := scratchDir(t, "git-source")
	runGit(t, source, "init", "-q", "-b", "main")
	for i := 1; i <= 3; i++ {
		writeFile(t, filepath.Join(source, fmt.Sprintf("file%d.txt", i)), strings.Repeat(fmt.Sprintf("line %d\n", i), 100), 0o644)
		writeFile(t, filepath.Join(source, "script.sh"), fmt.Sprintf("#!/bin/sh\necho %d\n", i), 0o755)
		runGit(t, source, "add", "-A")
		runGit(t, source, "commit", "-q", "-m", fmt.Sprintf("commit %d", i))
	}
	wantHead := strings.TrimSpace(runGit(t, source, "rev-parse", "HEAD"))

	runGit(t, mnt, "clone", "-q", source, "clone")
	clone := filepath.Join(mnt, "clone")
	if status := runGit(t, clone, "status", "--porcelain"); status != "" {
		t.Errorf("git status in the fresh clone on the mount is not clean:\n%s", status)
	}

	// Commit on the mount, then inspect the repository on the server.
	writeFile(t, filepath.Join(clone, "new.txt"), "made on the mount\n", 0o644)
	runGit(t, clone, "add", "new.txt")
	runGit(t, clone, "commit", "-q", "-m", "commit on the mount")

	serverClone := filepath.Join(remote, "clone")
	if status := runGit(t, serverClone, "status", "--porcelain"); status != "" {
		t.Errorf("git status of the clone read on the server is not clean:\n%s", status)
	}
	if out, err := runProgram(serverClone, gitEnv, "git", "fsck", "--strict"); err != nil {
		t.Errorf("git fsck of the clone on the server failed: %v\n%s", err, firstLines(out, 20))
	}
	log := runGit(t, serverClone, "log", "--format=%s")
	if !strings.HasPrefix(log, "commit on the mount\n") {
		t.Errorf("the server's git log does not start with the commit made on the mount:\n%s", log)
	}
	if parent := strings.TrimSpace(runGit(t, serverClone, "rev-parse", "HEAD~1")); parent != wantHead {
		t.Errorf("the commit's parent on the server is %s, want the source HEAD %s", parent, wantHead)
	}
	if st := lstat(t, filepath.Join(serverClone, "script.sh")); st.Mode&0o111 == 0 {
		t.Errorf("git checkout lost the executable bit: the server's script.sh has mode %o", st.Mode&0o7777)
	}
}

func (e *opsEnv) testTar(t *testing.T) {
	mnt, remote := e.dirs(t)
	source := scratchDir(t, "tar-source")
	makeSampleTree(t, source)
	archive := filepath.Join(scratchDir(t, "tar-archive"), "tree.tar")
	mustRun(t, "", "tar", "cf", archive, "-C", source, ".")

	mkdir(t, filepath.Join(mnt, "extracted"))
	mustRun(t, "", "tar", "xpf", archive, "-C", filepath.Join(mnt, "extracted"))
	compareTrees(t, source, filepath.Join(remote, "extracted"), "tar xf on the mount")

	// Archive the tree from the mount and compare the member lists.
	mustRun(t, "", "tar", "cf", filepath.Join(mnt, "again.tar"), "-C", filepath.Join(mnt, "extracted"), ".")
	want := mustRun(t, "", "tar", "tvf", archive)
	got := mustRun(t, "", "tar", "tvf", filepath.Join(remote, "again.tar"))
	if sortedLines(got) != sortedLines(want) {
		t.Errorf("tar cf of the mounted tree lists\n%s\nwant\n%s", got, want)
	}
}

func (e *opsEnv) testCpArchive(t *testing.T) {
	mnt, remote := e.dirs(t)
	source := scratchDir(t, "cp-source")
	makeSampleTree(t, source)

	mustRun(t, "", "cp", "-a", source+"/.", filepath.Join(mnt, "copy"))
	compareTrees(t, source, filepath.Join(remote, "copy"), "cp -a to the mount")

	// And back from the mount to local disk.
	back := filepath.Join(scratchDir(t, "cp-back"), "tree")
	mustRun(t, "", "cp", "-a", filepath.Join(mnt, "copy"), back)
	compareTrees(t, source, back, "cp -a from the mount")
}

func (e *opsEnv) testVim(t *testing.T) {
	mnt, remote := e.dirs(t)
	writeFile(t, filepath.Join(remote, "notes.txt"), "first line\nsecond foo line\n", 0o640)

	out, err := runProgram(mnt, nil, "vim", "-u", "NONE", "-i", "NONE", "-n", "-es",
		"-c", "%s/foo/bar/", "-c", "$put ='added by vim'", "-c", "wq", "notes.txt")
	if err != nil {
		t.Fatalf("vim -es editing notes.txt on the mount failed: %v\n%s", err, out)
	}
	want := "first line\nsecond bar line\nadded by vim\n"
	if got := readFile(t, filepath.Join(remote, "notes.txt")); got != want {
		t.Errorf("after vim the server has %q, want %q", got, want)
	}
	if got := lstat(t, filepath.Join(remote, "notes.txt")).Mode & 0o7777; got != 0o640 {
		t.Errorf("after vim the server's file has mode %o, want 640 kept", got)
	}
	if names := listNames(t, remote); len(names) != 1 {
		t.Errorf("vim left extra files on the server: %q", names)
	}
}

func (e *opsEnv) testSqlite(t *testing.T) {
	mnt, remote := e.dirs(t)
	db := filepath.Join(mnt, "test.db")
	mustRun(t, "", "sqlite3", db, `
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, value INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO items(name, value) SELECT 'item-' || i, i * 3 FROM n;
`)

	out := mustRun(t, "", "sqlite3", db, "SELECT count(*), sum(value), max(name) FROM items;")
	if got, want := strings.TrimSpace(out), "1000|1501500|item-999"; got != want {
		t.Errorf("query through the mount returned %q, want %q", got, want)
	}

	serverDB := filepath.Join(remote, "test.db")
	if got := strings.TrimSpace(mustRun(t, "", "sqlite3", serverDB, "PRAGMA integrity_check;")); got != "ok" {
		t.Errorf("integrity_check of the database on the server returned %q, want ok", got)
	}
	if got := strings.TrimSpace(mustRun(t, "", "sqlite3", serverDB, "SELECT count(*) FROM items;")); got != "1000" {
		t.Errorf("the database on the server has %s rows, want 1000", got)
	}

	// A second transaction through the mount after the server read it.
	mustRun(t, "", "sqlite3", db, "UPDATE items SET value = 0 WHERE id <= 10;")
	if got := strings.TrimSpace(mustRun(t, "", "sqlite3", serverDB, "SELECT count(*) FROM items WHERE value = 0;")); got != "10" {
		t.Errorf("after an UPDATE through the mount the server has %s zeroed rows, want 10", got)
	}
}

// makeSampleTree fills dir with files, directories and a symlink that
// have distinct modes and modification times.
func makeSampleTree(t *testing.T, dir string) {
	t.Helper()
	mkdir(t, filepath.Join(dir, "sub"))
	mkdir(t, filepath.Join(dir, "sub", "deeper"))
	writeFile(t, filepath.Join(dir, "readme.txt"), "hello\n", 0o644)
	writeFile(t, filepath.Join(dir, "run.sh"), "#!/bin/sh\nexit 0\n", 0o755)
	writeFile(t, filepath.Join(dir, "private"), "secret\n", 0o600)
	writeFile(t, filepath.Join(dir, "sub", "data.bin"), strings.Repeat("\x00\x01binary", 50000), 0o640)
	writeFile(t, filepath.Join(dir, "sub", "deeper", "empty"), "", 0o444)
	if err := os.Symlink("../readme.txt", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "sub", "deeper"), 0o750); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"readme.txt", "run.sh", "private", "sub/data.bin", "sub/deeper/empty", "sub/deeper", "sub"} {
		setTimes(t, filepath.Join(dir, name), int64(1500000000+i*1000), int64(1600000000+i*1000))
	}
}

// compareTrees checks that every entry below want exists below got with
// the same type, permissions, mtime (in seconds), content and link target.
// operation names the copy in the failure messages.
func compareTrees(t *testing.T, want, got, operation string) {
	t.Helper()
	err := filepath.Walk(want, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, path)
		other := filepath.Join(got, rel)
		otherInfo, err := os.Lstat(other)
		if err != nil {
			t.Errorf("%s: %s is missing: %v", operation, rel, err)
			return nil
		}
		if otherInfo.Mode().Type() != info.Mode().Type() {
			t.Errorf("%s: %s is a %v, want a %v", operation, rel, otherInfo.Mode().Type(), info.Mode().Type())
			return nil
		}
		if info.Mode().Type() == os.ModeSymlink {
			wantTarget, _ := os.Readlink(path)
			gotTarget, _ := os.Readlink(other)
			if gotTarget != wantTarget {
				t.Errorf("%s: symlink %s points to %q, want %q", operation, rel, gotTarget, wantTarget)
			}
			return nil
		}
		if rel != "." && otherInfo.Mode().Perm() != info.Mode().Perm() {
			t.Errorf("%s: %s has mode %v, want %v", operation, rel, otherInfo.Mode().Perm(), info.Mode().Perm())
		}
		if rel != "." && otherInfo.ModTime().Unix() != info.ModTime().Unix() {
			t.Errorf("%s: %s has mtime %d, want %d", operation, rel, otherInfo.ModTime().Unix(), info.ModTime().Unix())
		}
		if info.Mode().IsRegular() {
			wantData, _ := os.ReadFile(path)
			gotData, err := os.ReadFile(other)
			if err != nil {
				t.Errorf("%s: read %s: %v", operation, rel, err)
			} else if string(gotData) != string(wantData) {
				t.Errorf("%s: %s has %d bytes that differ from the %d of the source", operation, rel, len(gotData), len(wantData))
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s: walking %s: %v", operation, want, err)
	}
}

// sortedLines returns the lines of s sorted, without the archive's root
// directory entry "./", to compare listings whose order may differ.
func sortedLines(s string) string {
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasSuffix(line, " ./") {
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

package serve

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// confinedTree serves base/share next to base/outside, which holds a
// secret file, and places symbolic links in share that lead out of it.
type confinedTree struct {
	client  *sftp.Client
	share   string
	outside string
	secret  string // base/outside/secret.txt
}

const secretContent = "outside the root"

func newConfinedTree(t *testing.T) *confinedTree {
	t.Helper()
	base := t.TempDir()
	tree := &confinedTree{
		share:   filepath.Join(base, "share"),
		outside: filepath.Join(base, "outside"),
	}
	tree.secret = filepath.Join(tree.outside, "secret.txt")
	for _, dir := range []string{tree.share, tree.outside, filepath.Join(tree.share, "sub")} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(tree.secret, []byte(secretContent), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tree.share, "sub", "inside.txt"), "inside")

	links := map[string]string{
		"etc":        "/etc",
		"up":         "../outside",
		"abs":        tree.outside,
		"secretlink": "../outside/secret.txt",
		"sublink":    "sub", // stays inside: a control case that must work
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(tree.share, name)); err != nil {
			t.Fatal(err)
		}
	}

	ts := startServer(t, Options{Dir: tree.share})
	tree.client = ts.dialSFTP(t)
	return tree
}

// checkOutsideUnchanged fails the test when anything outside the share
// was created, removed or modified.
func (tree *confinedTree) checkOutsideUnchanged(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(tree.outside)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	if !slices.Equal(names, []string{"secret.txt"}) {
		t.Errorf("outside directory contains %v, want only secret.txt", names)
	}
	if got := readFile(t, tree.secret); got != secretContent {
		t.Errorf("secret file = %q, want it unchanged", got)
	}
	if got := modeOf(t, tree.secret).Perm(); got != 0o644 {
		t.Errorf("secret file mode = %#o, want 0644 unchanged", got)
	}
	if _, err := os.Lstat("/etc/gosshfs-serve-test"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/etc/gosshfs-serve-test exists: %v", err)
	}
}

func TestConfinementControlInsideLink(t *testing.T) {
	tree := newConfinedTree(t)

	f, err := tree.client.Open("/sublink/inside.txt")
	if err != nil {
		t.Fatalf("Open through a link that stays inside: %v", err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(data) != "inside" {
		t.Errorf("read = %q, %v, want %q", data, err, "inside")
	}
	if _, err := tree.client.ReadDir("/sublink"); err != nil {
		t.Errorf("ReadDir through a link that stays inside: %v", err)
	}
	// Lstat of an outside link only describes the link, which is inside.
	info, err := tree.client.Lstat("/up")
	if err != nil {
		t.Fatalf("Lstat /up: %v", err)
	}
	if info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("Lstat /up mode = %v, want a symbolic link", info.Mode())
	}
}

func TestConfinementPathsMapInsideRoot(t *testing.T) {
	tree := newConfinedTree(t)

	// Paths with ".." and absolute paths are cleaned against the share's
	// "/", so they name files that do not exist there.
	for _, p := range []string{"../outside/secret.txt", "/../outside/secret.txt", "sub/../../outside/secret.txt", "/../../outside"} {
		if _, err := tree.client.Open(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want os.ErrNotExist", p, err)
		}
		if _, err := tree.client.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want os.ErrNotExist", p, err)
		}
	}
	if _, err := tree.client.ReadDir("/../outside"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadDir(/../outside) = %v, want os.ErrNotExist", err)
	}
	if _, err := tree.client.Create("/../outside/created.txt"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create(/../outside/created.txt) = %v, want os.ErrNotExist", err)
	}

	// With an "outside" directory in the share, the same path lands there.
	if err := os.Mkdir(filepath.Join(tree.share, "outside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := createAndClose(tree.client, "/../outside/created.txt", os.O_WRONLY|os.O_CREATE); err != nil {
		t.Fatalf("Create(/../outside/created.txt) with share/outside present: %v", err)
	}
	if got := readFile(t, filepath.Join(tree.share, "outside", "created.txt")); got != "written" {
		t.Errorf("share/outside/created.txt = %q, want %q", got, "written")
	}
	tree.checkOutsideUnchanged(t)
}

func TestConfinementAbsolutePathIsInsideRoot(t *testing.T) {
	client, dir := startSFTP(t)

	for _, p := range []string{"/etc/passwd", "/../../../../etc/passwd", "../etc/passwd"} {
		if _, err := client.Open(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want os.ErrNotExist", p, err)
		}
	}
	if _, err := client.ReadDir("/etc"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadDir(/etc) = %v, want os.ErrNotExist", err)
	}

	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "etc", "passwd"), "served copy")
	f, err := client.Open("/../etc/passwd")
	if err != nil {
		t.Fatalf("Open(/../etc/passwd) with share/etc/passwd present: %v", err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(data) != "served copy" {
		t.Errorf("read = %q, %v, want the share's copy", data, err)
	}
}

func TestConfinementReadThroughLinks(t *testing.T) {
	tree := newConfinedTree(t)

	for _, p := range []string{"/etc/passwd", "/up/secret.txt", "/abs/secret.txt", "/secretlink", "/sublink/../up/secret.txt"} {
		if f, err := tree.client.Open(p); err == nil {
			data, _ := io.ReadAll(f)
			f.Close()
			t.Errorf("Open(%q) succeeded and read %q", p, data)
		}
		if _, err := tree.client.Stat(p); err == nil {
			t.Errorf("Stat(%q) succeeded", p)
		}
	}
	for _, p := range []string{"/etc", "/up", "/abs", "/up/"} {
		if entries, err := tree.client.ReadDir(p); err == nil {
			t.Errorf("ReadDir(%q) succeeded with %d entries", p, len(entries))
		}
	}
	if _, err := tree.client.ReadLink("/up/secret.txt"); err == nil {
		t.Error("ReadLink through a link to outside succeeded")
	}
	if _, err := tree.client.StatVFS("/up/secret.txt"); err == nil {
		t.Error("StatVFS through a link to outside succeeded")
	}
}

func TestConfinementWriteThroughLinks(t *testing.T) {
	tree := newConfinedTree(t)
	c := tree.client

	writes := []struct {
		name string
		do   func() error
	}{
		{"create in linked dir", func() error { return createAndClose(c, "/up/new.txt", os.O_WRONLY|os.O_CREATE) }},
		{"create in absolute link", func() error { return createAndClose(c, "/abs/new.txt", os.O_WRONLY|os.O_CREATE) }},
		{"create in /etc link", func() error { return createAndClose(c, "/etc/gosshfs-serve-test", os.O_WRONLY|os.O_CREATE) }},
		{"truncate file link", func() error { return createAndClose(c, "/secretlink", os.O_WRONLY|os.O_TRUNC) }},
		{"append file link", func() error { return createAndClose(c, "/secretlink", os.O_WRONLY|os.O_APPEND) }},
		{"mkdir in linked dir", func() error { return c.Mkdir("/up/newdir") }},
		{"rename into linked dir", func() error { return c.Rename("/sub/inside.txt", "/up/moved.txt") }},
		{"posix-rename into linked dir", func() error { return c.PosixRename("/sub/inside.txt", "/up/moved.txt") }},
		{"posix-rename out of linked dir", func() error { return c.PosixRename("/up/secret.txt", "/stolen.txt") }},
		{"posix-rename onto file link target", func() error { return c.PosixRename("/sub/inside.txt", "/up/secret.txt") }},
		{"hard link from linked dir", func() error { return c.Link("/up/secret.txt", "/stolen.txt") }},
		{"hard link into linked dir", func() error { return c.Link("/sub/inside.txt", "/up/linked.txt") }},
		{"symlink in linked dir", func() error { return c.Symlink("x", "/up/newlink") }},
		{"remove in linked dir", func() error { return c.Remove("/up/secret.txt") }},
		{"rmdir linked dir", func() error { return c.RemoveDirectory("/abs/") }},
		{"chmod file link", func() error { return c.Chmod("/secretlink", 0o777) }},
		{"chmod in linked dir", func() error { return c.Chmod("/up/secret.txt", 0o777) }},
		{"chtimes file link", func() error { return c.Chtimes("/secretlink", testTime, testTime) }},
		{"truncate via setstat", func() error { return c.Truncate("/secretlink", 0) }},
		{"chown file link", func() error { return c.Chown("/secretlink", os.Getuid(), os.Getgid()) }},
	}
	for _, w := range writes {
		if err := w.do(); err == nil {
			t.Errorf("%s succeeded", w.name)
		}
	}
	tree.checkOutsideUnchanged(t)
	if _, err := os.Lstat(filepath.Join(tree.share, "stolen.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stolen.txt exists in the share: %v", err)
	}
	if got := readFile(t, filepath.Join(tree.share, "sub", "inside.txt")); got != "inside" {
		t.Errorf("inside.txt = %q after failed renames, want it unchanged", got)
	}
}

func createAndClose(c *sftp.Client, p string, flag int) error {
	f, err := c.OpenFile(p, flag)
	if err != nil {
		return err
	}
	_, writeErr := f.Write([]byte("written"))
	closeErr := f.Close()
	return errors.Join(writeErr, closeErr)
}

var testTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

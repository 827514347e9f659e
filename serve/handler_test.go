package serve

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// processUmask reads the umask from /proc/self/status, which Linux has
// provided since 4.7, and skips the test where it is missing.
func processUmask(t *testing.T) os.FileMode {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("umask unknown: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if value, ok := strings.CutPrefix(line, "Umask:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(value), 8, 32)
			if err != nil {
				t.Fatalf("parse umask %q: %v", value, err)
			}
			return os.FileMode(mask)
		}
	}
	t.Skip("umask unknown: no Umask line in /proc/self/status")
	return 0
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestWriteAndReadFile(t *testing.T) {
	client, dir := startSFTP(t)

	f, err := client.Create("/hello.txt")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := f.Write([]byte("hello, world")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "hello.txt")); got != "hello, world" {
		t.Errorf("file on disk = %q, want %q", got, "hello, world")
	}

	f, err = client.Open("/hello.txt")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 5)
	if _, err := f.ReadAt(buf, 7); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	if string(buf) != "world" {
		t.Errorf("ReadAt(7) = %q, want %q", buf, "world")
	}
	if _, err := f.ReadAt(buf, 100); !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end = %v, want io.EOF", err)
	}
}

func TestLargeFileRoundTrip(t *testing.T) {
	client, dir := startSFTP(t)
	want := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB, many packets

	f, err := client.Create("/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(want)); err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "large.bin")); got != string(want) {
		t.Fatalf("file on disk differs: %d bytes, want %d", len(got), len(want))
	}

	f, err = client.Open("/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got bytes.Buffer
	if _, err := f.WriteTo(&got); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("downloaded %d bytes that differ from the %d uploaded", got.Len(), len(want))
	}
}

func TestOpenFlags(t *testing.T) {
	client, dir := startSFTP(t)
	path := filepath.Join(dir, "data.txt")

	t.Run("excl on existing file", func(t *testing.T) {
		writeFile(t, path, "original")
		if _, err := client.OpenFile("/data.txt", os.O_WRONLY|os.O_CREATE|os.O_EXCL); err == nil {
			t.Error("O_EXCL open of an existing file succeeded")
		}
		if got := readFile(t, path); got != "original" {
			t.Errorf("file = %q after failed O_EXCL open, want it unchanged", got)
		}
	})

	t.Run("trunc", func(t *testing.T) {
		writeFile(t, path, "original")
		f, err := client.OpenFile("/data.txt", os.O_WRONLY|os.O_TRUNC)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path); got != "" {
			t.Errorf("file = %q after O_TRUNC, want empty", got)
		}
	})

	t.Run("append", func(t *testing.T) {
		writeFile(t, path, "123")
		f, err := client.OpenFile("/data.txt", os.O_WRONLY|os.O_APPEND)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("abc")); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path); got != "123abc" {
			t.Errorf("file = %q after O_APPEND write, want %q", got, "123abc")
		}
	})

	t.Run("read write handle", func(t *testing.T) {
		writeFile(t, path, "abcdef")
		f, err := client.OpenFile("/data.txt", os.O_RDWR)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte("XY"), 2); err != nil {
			t.Fatalf("WriteAt: %v", err)
		}
		buf := make([]byte, 6)
		if _, err := f.ReadAt(buf, 0); err != nil {
			t.Fatalf("ReadAt: %v", err)
		}
		if string(buf) != "abXYef" {
			t.Errorf("ReadAt after WriteAt = %q, want %q", buf, "abXYef")
		}
	})

	t.Run("create mode without attributes", func(t *testing.T) {
		umask := processUmask(t)
		f, err := client.OpenFile("/new.txt", os.O_WRONLY|os.O_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := modeOf(t, filepath.Join(dir, "new.txt")).Perm(), 0o666&^umask; got != want {
			t.Errorf("mode = %#o, want %#o", got, want)
		}
	})
}

func TestRenameKeepsExistingTarget(t *testing.T) {
	client, dir := startSFTP(t)
	writeFile(t, filepath.Join(dir, "a"), "A")
	writeFile(t, filepath.Join(dir, "b"), "B")

	if err := client.Rename("/a", "/b"); err == nil {
		t.Error("Rename onto an existing file succeeded")
	}
	if got := readFile(t, filepath.Join(dir, "b")); got != "B" {
		t.Errorf("target = %q after failed Rename, want %q", got, "B")
	}

	if err := client.Rename("/a", "/c"); err != nil {
		t.Fatalf("Rename to a new name: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "c")); got != "A" {
		t.Errorf("renamed file = %q, want %q", got, "A")
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("source still exists after Rename: %v", err)
	}
}

func TestPosixRenameReplacesTarget(t *testing.T) {
	client, dir := startSFTP(t)
	writeFile(t, filepath.Join(dir, "a"), "A")
	writeFile(t, filepath.Join(dir, "b"), "B")

	if err := client.PosixRename("/a", "/b"); err != nil {
		t.Fatalf("PosixRename: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "b")); got != "A" {
		t.Errorf("target = %q, want %q", got, "A")
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("source still exists after PosixRename: %v", err)
	}
}

func TestMkdirRmdirRemove(t *testing.T) {
	client, dir := startSFTP(t)
	umask := processUmask(t)

	if err := client.Mkdir("/d"); err != nil {
		t.Fatalf("Mkdir: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsDir() {
		t.Fatalf("mode = %v, want a directory", info.Mode())
	}
	if got, want := info.Mode().Perm(), 0o777&^umask; got != want {
		t.Errorf("mode = %#o, want %#o", got, want)
	}
	if err := client.Mkdir("/d"); err == nil {
		t.Error("Mkdir of an existing directory succeeded")
	}

	writeFile(t, filepath.Join(dir, "f"), "x")
	if err := client.RemoveDirectory("/f"); err == nil {
		t.Error("RemoveDirectory of a file succeeded")
	}
	if err := client.Remove("/f"); err != nil {
		t.Errorf("Remove of a file: %v", err)
	}
	if err := client.RemoveDirectory("/d"); err != nil {
		t.Errorf("RemoveDirectory: %v", err)
	}
	if err := client.RemoveDirectory("/"); err == nil {
		t.Error("RemoveDirectory of the root succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("directory not empty after removals: %v", entries)
	}
}

func TestSymlinkAndReadlink(t *testing.T) {
	client, dir := startSFTP(t)
	writeFile(t, filepath.Join(dir, "target.txt"), "through the link")

	if err := client.Symlink("target.txt", "/link"); err != nil {
		t.Fatalf("Symlink: %v", err)
	}
	if got, err := os.Readlink(filepath.Join(dir, "link")); err != nil || got != "target.txt" {
		t.Errorf("link on disk points to %q, %v, want target.txt", got, err)
	}
	if got, err := client.ReadLink("/link"); err != nil || got != "target.txt" {
		t.Errorf("ReadLink = %q, %v, want target.txt", got, err)
	}

	lstat, err := client.Lstat("/link")
	if err != nil {
		t.Fatalf("Lstat: %v", err)
	}
	if lstat.Mode()&os.ModeSymlink == 0 {
		t.Errorf("Lstat mode = %v, want a symbolic link", lstat.Mode())
	}
	stat, err := client.Stat("/link")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if !stat.Mode().IsRegular() || stat.Size() != int64(len("through the link")) {
		t.Errorf("Stat = %v, %d bytes, want the regular target", stat.Mode(), stat.Size())
	}

	f, err := client.Open("/link")
	if err != nil {
		t.Fatalf("Open through link: %v", err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(data) != "through the link" {
		t.Errorf("read through link = %q, %v", data, err)
	}

	// Any text can be stored as a target; only following it is confined.
	if err := client.Symlink("../../anywhere", "/dangling"); err != nil {
		t.Fatalf("Symlink with an outside target: %v", err)
	}
	if got, err := client.ReadLink("/dangling"); err != nil || got != "../../anywhere" {
		t.Errorf("ReadLink = %q, %v, want ../../anywhere", got, err)
	}
}

func TestHardLink(t *testing.T) {
	client, dir := startSFTP(t)
	writeFile(t, filepath.Join(dir, "a"), "shared")

	if err := client.Link("/a", "/b"); err != nil {
		t.Fatalf("Link: %v", err)
	}
	a, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Stat(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Error("a and b are different files after Link")
	}
	if err := client.Link("/a", "/b"); err == nil {
		t.Error("Link onto an existing name succeeded")
	}
}

func TestSetstat(t *testing.T) {
	client, dir := startSFTP(t)
	path := filepath.Join(dir, "f")
	writeFile(t, path, "0123456789")

	if err := client.Chmod("/f", 0o640); err != nil {
		t.Fatalf("Chmod: %v", err)
	}
	if got := modeOf(t, path).Perm(); got != 0o640 {
		t.Errorf("mode after Chmod = %#o, want 0640", got)
	}
	if err := client.Chmod("/f", 0o755|os.ModeSetgid); err != nil {
		t.Fatalf("Chmod with setgid: %v", err)
	}
	if got := modeOf(t, path); got&os.ModeSetgid == 0 || got.Perm() != 0o755 {
		t.Errorf("mode after Chmod with setgid = %v, want -rwxr-xr-x with setgid", got)
	}

	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := client.Chtimes("/f", mtime, mtime); err != nil {
		t.Fatalf("Chtimes: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime().Equal(mtime) {
		t.Errorf("mtime = %v, want %v", info.ModTime(), mtime)
	}

	if err := client.Truncate("/f", 4); err != nil {
		t.Fatalf("Truncate: %v", err)
	}
	if got := readFile(t, path); got != "0123" {
		t.Errorf("file after Truncate = %q, want %q", got, "0123")
	}

	if err := client.Chown("/f", os.Getuid(), os.Getgid()); err != nil {
		t.Errorf("Chown to the current owner: %v", err)
	}

	// fsetstat arrives as a setstat on the handle's path.
	f, err := client.OpenFile("/f", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(1); err != nil {
		t.Fatalf("File.Truncate: %v", err)
	}
	if got := readFile(t, path); got != "0" {
		t.Errorf("file after File.Truncate = %q, want %q", got, "0")
	}
	if err := client.Chmod("/missing", 0o600); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Chmod of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestReadDir(t *testing.T) {
	client, dir := startSFTP(t)
	var want []string
	for i := range 250 { // more than one pkg/sftp batch of 100
		name := "file" + strconv.Itoa(i)
		writeFile(t, filepath.Join(dir, name), "x")
		want = append(want, name)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	want = append(want, "sub")

	infos, err := client.ReadDir("/")
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	var got []string
	for _, info := range infos {
		got = append(got, info.Name())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ReadDir returned %d names, want %d: %v", len(got), len(want), got)
	}

	if _, err := client.ReadDir("/file0"); err == nil {
		t.Error("ReadDir of a file succeeded")
	}
	if _, err := client.ReadDir("/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadDir of a missing directory = %v, want os.ErrNotExist", err)
	}
}

func TestRealPath(t *testing.T) {
	client, _ := startSFTP(t)

	for in, want := range map[string]string{".": "/", "a/../b": "/b", "/../..": "/", "/x/": "/x"} {
		got, err := client.RealPath(in)
		if err != nil {
			t.Errorf("RealPath(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("RealPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMissingFileIsNotExist(t *testing.T) {
	client, _ := startSFTP(t)

	if _, err := client.Open("/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open = %v, want os.ErrNotExist", err)
	}
	if _, err := client.Stat("/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat = %v, want os.ErrNotExist", err)
	}
	if err := client.Rename("/missing", "/other"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Rename = %v, want os.ErrNotExist", err)
	}
}

func TestRequestErrorStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"ENOENT in PathError", &os.PathError{Op: "openat", Path: "/srv/x", Err: syscall.ENOENT}, sftp.ErrSSHFxNoSuchFile},
		{"EACCES in PathError", &os.PathError{Op: "openat", Path: "/srv/x", Err: syscall.EACCES}, sftp.ErrSSHFxPermissionDenied},
		{"EPERM in LinkError", &os.LinkError{Op: "renameat", Old: "/srv/a", New: "/srv/b", Err: syscall.EPERM}, sftp.ErrSSHFxPermissionDenied},
		{"EACCES in LinkError", &os.LinkError{Op: "linkat", Old: "/srv/a", New: "/srv/b", Err: syscall.EACCES}, sftp.ErrSSHFxPermissionDenied},
		{"bare EEXIST", syscall.EEXIST, sftp.ErrSSHFxFailure},
		{"other error", errors.New("path escapes from parent"), sftp.ErrSSHFxFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newRequestError("op", "/x", tt.err)
			if !errors.Is(err, tt.want) {
				t.Errorf("status of %v = %v, want %v", tt.err, err, tt.want)
			}
			if strings.Contains(err.Error(), "/srv") {
				t.Errorf("message %q contains the server path", err)
			}
		})
	}
	if err := newRequestError("op", "/x", nil); err != nil {
		t.Errorf("newRequestError(nil) = %v, want nil", err)
	}
}

// rawSFTP sends hand-built SFTP version 3 packets, for attributes that the
// pkg/sftp client cannot send.
type rawSFTP struct {
	t  *testing.T
	w  io.Writer
	r  *bufio.Reader
	id uint32
}

func dialRawSFTP(t *testing.T, ts *testServer) *rawSFTP {
	t.Helper()
	conn, err := ts.dialSSH(t, readSigner(t, ts.clientKeyPath()))
	if err != nil {
		t.Fatal(err)
	}
	session, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { session.Close() })
	w, err := session.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := session.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}

	c := &rawSFTP{t: t, w: w, r: bufio.NewReader(r)}
	c.send(1, binary.BigEndian.AppendUint32(nil, 3)) // SSH_FXP_INIT, version 3
	if packetType, _ := c.receive(); packetType != 2 {
		t.Fatalf("reply to SSH_FXP_INIT has type %d, want SSH_FXP_VERSION", packetType)
	}
	return c
}

func (c *rawSFTP) send(packetType byte, body []byte) {
	c.t.Helper()
	packet := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	packet = append(packet, packetType)
	packet = append(packet, body...)
	if _, err := c.w.Write(packet); err != nil {
		c.t.Fatalf("send packet: %v", err)
	}
}

func (c *rawSFTP) receive() (byte, []byte) {
	c.t.Helper()
	var header [5]byte
	if _, err := io.ReadFull(c.r, header[:]); err != nil {
		c.t.Fatalf("receive packet: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(header[:4])-1)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("receive packet: %v", err)
	}
	return header[4], body
}

// request sends a packet made of a new request id and fields (uint32 or
// string values) and returns the reply's type and the body after its id.
func (c *rawSFTP) request(packetType byte, fields ...any) (byte, []byte) {
	c.t.Helper()
	c.id++
	body := binary.BigEndian.AppendUint32(nil, c.id)
	for _, field := range fields {
		switch v := field.(type) {
		case uint32:
			body = binary.BigEndian.AppendUint32(body, v)
		case string:
			body = binary.BigEndian.AppendUint32(body, uint32(len(v)))
			body = append(body, v...)
		default:
			c.t.Fatalf("unsupported field type %T", field)
		}
	}
	c.send(packetType, body)

	replyType, reply := c.receive()
	if id := binary.BigEndian.Uint32(reply); id != c.id {
		c.t.Fatalf("reply id = %d, want %d", id, c.id)
	}
	return replyType, reply[4:]
}

// status sends a request whose reply is SSH_FXP_STATUS and returns the
// status code.
func (c *rawSFTP) status(packetType byte, fields ...any) uint32 {
	c.t.Helper()
	replyType, reply := c.request(packetType, fields...)
	if replyType != 101 {
		c.t.Fatalf("reply type = %d, want SSH_FXP_STATUS", replyType)
	}
	return binary.BigEndian.Uint32(reply)
}

// create opens path with SSH_FXF_WRITE|SSH_FXF_CREAT and the given
// attributes, then closes the handle.
func (c *rawSFTP) create(path string, attrs ...any) {
	c.t.Helper()
	fields := append([]any{path, uint32(0x02 | fxfCreat)}, attrs...)
	replyType, reply := c.request(fxpOpen, fields...)
	if replyType != 102 {
		c.t.Fatalf("open %s: reply type = %d, want SSH_FXP_HANDLE", path, replyType)
	}
	handle := string(reply[4 : 4+binary.BigEndian.Uint32(reply)])
	if code := c.status(4, handle); code != 0 { // SSH_FXP_CLOSE
		c.t.Fatalf("close %s: status %d", path, code)
	}
}

func TestRequestedModes(t *testing.T) {
	ts := startServer(t, Options{})
	c := dialRawSFTP(t, ts)
	umask := processUmask(t)

	c.create("/f600", uint32(attrPermissions), uint32(0o600))
	c.create("/f640-with-size", uint32(attrSize|attrPermissions), uint32(0), uint32(0), uint32(0o640))
	c.create("/f-default", uint32(0))
	if code := c.status(fxpMkdir, "/d700", uint32(attrPermissions), uint32(0o700)); code != 0 {
		t.Fatalf("mkdir /d700: status %d", code)
	}
	if code := c.status(fxpMkdir, "/d-sticky", uint32(attrPermissions), uint32(0o1777)); code != 0 {
		t.Fatalf("mkdir /d-sticky: status %d", code)
	}
	if code := c.status(fxpMkdir, "/d-default", uint32(0)); code != 0 {
		t.Fatalf("mkdir /d-default: status %d", code)
	}

	tests := []struct {
		name string
		want os.FileMode
	}{
		{"f600", 0o600},
		{"f640-with-size", 0o640},
		{"f-default", 0o666 &^ umask},
		{"d700", os.ModeDir | 0o700},
		{"d-sticky", os.ModeDir | os.ModeSticky | 0o777&^umask},
		{"d-default", os.ModeDir | 0o777&^umask},
	}
	for _, tt := range tests {
		if got := modeOf(t, filepath.Join(ts.dir, tt.name)); got != tt.want {
			t.Errorf("%s mode = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRemoveRejectsDirectory(t *testing.T) {
	ts := startServer(t, Options{})
	c := dialRawSFTP(t, ts)
	if err := os.Mkdir(filepath.Join(ts.dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}

	if code := c.status(13, "/d"); code == 0 { // SSH_FXP_REMOVE
		t.Error("SSH_FXP_REMOVE of a directory succeeded")
	}
	if _, err := os.Stat(filepath.Join(ts.dir, "d")); err != nil {
		t.Errorf("directory gone after a failed remove: %v", err)
	}
}

package serve

import (
	"io"
	"log/slog"
	"os"
	"os/user"
	"path"
	"sync"
	"syscall"

	"github.com/pkg/sftp"
)

// handler implements the pkg/sftp request-server interfaces on an os.Root.
// Each SFTP session has its own handler, because the modeRecorder belongs
// to one session's stream.
type handler struct {
	root  *os.Root
	names *idNames
	modes *modeRecorder
	log   *slog.Logger
}

// Optional pkg/sftp interfaces that handler implements. Without them the
// request server would treat posix-rename as rename, lstat as stat and
// readlink as stat, would not open a handle for reading and writing, would
// reject statvfs, and would print numeric owners in long listings.
var (
	_ sftp.FileReader           = (*handler)(nil)
	_ sftp.OpenFileWriter       = (*handler)(nil)
	_ sftp.PosixRenameFileCmder = (*handler)(nil)
	_ sftp.StatVFSFileCmder     = (*handler)(nil)
	_ sftp.LstatFileLister      = (*handler)(nil)
	_ sftp.ReadlinkFileLister   = (*handler)(nil)
	_ sftp.RealPathFileLister   = (*handler)(nil)
	_ sftp.NameLookupFileLister = (*handler)(nil)
)

func (h *handler) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

// rootName converts a request path, which pkg/sftp has already made
// absolute and clean, into a name relative to the root.
func rootName(p string) string {
	p = path.Join("/", p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

// fail logs a failed request at Debug level and converts err for the
// client. It returns nil when err is nil.
func (h *handler) fail(op, clientPath string, err error) error {
	if err == nil {
		return nil
	}
	h.log.Debug("SFTP request failed", "op", op, "path", clientPath, "err", err)
	return newRequestError(op, clientPath, err)
}

// Fileread opens a file for reading. Files are opened with O_NONBLOCK, which
// does not affect regular files but keeps the open of a FIFO from blocking
// the session's request goroutine, and with it shutdown.
func (h *handler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	f, err := h.root.OpenFile(rootName(r.Filepath), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, h.fail("open", r.Filepath, err)
	}
	return &openFile{file: f, path: r.Filepath}, nil
}

// Filewrite opens a file for writing. pkg/sftp calls it for open requests
// with a write, append, create or truncate flag but no read flag.
func (h *handler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	f, err := h.openForWrite(r)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// OpenFile opens a file for reading and writing. pkg/sftp calls it for open
// requests with the read flag and a write, append, create or truncate flag.
func (h *handler) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	f, err := h.openForWrite(r)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openForWrite opens a file with the request's open flags. A created file
// gets the permissions of the request, or 0666, minus the process umask, as
// with OpenSSH's sftp-server.
func (h *handler) openForWrite(r *sftp.Request) (*openFile, error) {
	pflags := r.Pflags()
	flag := os.O_WRONLY | syscall.O_NONBLOCK
	if pflags.Read {
		flag = os.O_RDWR | syscall.O_NONBLOCK
	}

	perm := os.FileMode(0o666)
	if pflags.Creat {
		flag |= os.O_CREATE
		if requested, ok := h.modes.take(fxpOpen, r.Filepath); ok {
			perm = requested
		}
	}
	if pflags.Trunc {
		flag |= os.O_TRUNC
	}
	if pflags.Excl {
		flag |= os.O_EXCL
	}
	if pflags.Append {
		flag |= os.O_APPEND
	}

	// NOTE: os.Root.OpenFile (Go 1.26) does not convert os.ModeSetuid,
	// os.ModeSetgid and os.ModeSticky to open(2) mode bits, so only the
	// permission bits apply at creation. A later setstat sets the others.
	f, err := h.root.OpenFile(rootName(r.Filepath), flag, perm.Perm())
	if err != nil {
		return nil, h.fail("open", r.Filepath, err)
	}
	return &openFile{file: f, path: r.Filepath, append: pflags.Append}, nil
}

// Filelist lists a directory ("List") or stats a path, following a final
// symbolic link ("Stat").
func (h *handler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		dir, err := h.root.OpenFile(rootName(r.Filepath), os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			return nil, h.fail("opendir", r.Filepath, err)
		}
		return &dirLister{dir: dir, path: r.Filepath}, nil

	case "Stat":
		info, err := h.root.Stat(rootName(r.Filepath))
		if err != nil {
			return nil, h.fail("stat", r.Filepath, err)
		}
		return fileInfoList{info}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat stats a path without following a final symbolic link.
func (h *handler) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	info, err := h.root.Lstat(rootName(r.Filepath))
	if err != nil {
		return nil, h.fail("lstat", r.Filepath, err)
	}
	return fileInfoList{info}, nil
}

// Readlink returns the target text of a symbolic link, which may name a
// path outside the root; following it is what the root prevents.
func (h *handler) Readlink(p string) (string, error) {
	target, err := h.root.Readlink(rootName(p))
	if err != nil {
		return "", h.fail("readlink", p, err)
	}
	return target, nil
}

// RealPath cleans p lexically against "/". It does not resolve symbolic
// links or check that p exists.
func (h *handler) RealPath(p string) (string, error) {
	return path.Join("/", p), nil
}

// LookupUserName returns the user name for a numeric uid, or uid itself.
func (h *handler) LookupUserName(uid string) string { return h.names.user(uid) }

// LookupGroupName returns the group name for a numeric gid, or gid itself.
func (h *handler) LookupGroupName(gid string) string { return h.names.group(gid) }

// openFile is the file behind one SFTP handle.
type openFile struct {
	file   *os.File
	path   string // request path, for error messages
	append bool
}

func (f *openFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.file.ReadAt(b, off)
	if err != nil && err != io.EOF {
		return n, newRequestError("read", f.path, err)
	}
	return n, err
}

// WriteAt writes b at off. A handle opened with SSH_FXF_APPEND ignores off
// and writes at the end of the file, because that flag requests that every
// write append.
//
// NOTE: pkg/sftp runs the write requests of one handle on several
// goroutines, so appends that a client sends without waiting for replies
// may land in a different order.
func (f *openFile) WriteAt(b []byte, off int64) (int, error) {
	var n int
	var err error
	if f.append {
		n, err = f.file.Write(b)
	} else {
		n, err = f.file.WriteAt(b, off)
	}
	if err != nil {
		return n, newRequestError("write", f.path, err)
	}
	return n, nil
}

func (f *openFile) Close() error {
	return newRequestError("close", f.path, f.file.Close())
}

// dirLister returns the entries of an open directory in the order the
// file system does, without "." and "..". pkg/sftp requests consecutive
// offsets, so ListAt ignores the offset.
type dirLister struct {
	dir  *os.File
	path string // request path, for error messages
}

func (l *dirLister) ListAt(entries []os.FileInfo, _ int64) (int, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	infos, err := l.dir.Readdir(len(entries))
	n := copy(entries, infos)
	if err != nil && err != io.EOF {
		return n, newRequestError("readdir", l.path, err)
	}
	return n, err
}

func (l *dirLister) Close() error {
	return newRequestError("closedir", l.path, l.dir.Close())
}

// fileInfoList is a fixed list of entries, such as the single result of a
// stat request.
type fileInfoList []os.FileInfo

func (l fileInfoList) ListAt(entries []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(entries, l[offset:])
	if n < len(entries) {
		return n, io.EOF
	}
	return n, nil
}

// idNames caches user and group names by numeric id for long listings.
// A failed lookup caches the id itself.
type idNames struct {
	mu     sync.Mutex
	users  map[string]string // guarded by mu
	groups map[string]string // guarded by mu
}

func newIDNames() *idNames {
	return &idNames{users: make(map[string]string), groups: make(map[string]string)}
}

func (n *idNames) user(uid string) string {
	return n.lookup(n.users, uid, func() (string, error) {
		u, err := user.LookupId(uid)
		if err != nil {
			return "", err
		}
		return u.Username, nil
	})
}

func (n *idNames) group(gid string) string {
	return n.lookup(n.groups, gid, func() (string, error) {
		g, err := user.LookupGroupId(gid)
		if err != nil {
			return "", err
		}
		return g.Name, nil
	})
}

// lookup returns cache[id], calling find on a miss. The lock is not held
// during find, which may query a network name service.
func (n *idNames) lookup(cache map[string]string, id string, find func() (string, error)) string {
	n.mu.Lock()
	name, ok := cache[id]
	n.mu.Unlock()
	if ok {
		return name
	}

	name, err := find()
	if err != nil {
		name = id
	}
	n.mu.Lock()
	cache[id] = name
	n.mu.Unlock()
	return name
}

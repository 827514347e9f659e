package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// File is an open remote file. Reads and writes are positioned requests,
// so concurrent calls never share an offset. When the connection under a
// File ends, the next call reopens the file by path on a redialed
// connection (without O_CREAT, O_EXCL or O_TRUNC) and repeats the request.
type File struct {
	c     *Client
	slot  int
	flags int // os.O_* flags of the open, less O_CREATE, O_EXCL and O_TRUNC

	mu sync.RWMutex // guards the fields below; never held across a request
	// path is the file's path for reopening after a reconnect, which the
	// file system updates on rename.
	path string
	cn   *conn
	sf   *sftp.File
	// stale is set when the path no longer names this file (unlinked or
	// replaced), so a reopen would reach another file.
	stale  error
	closed bool
	// locate, when set, returns the file's current path, or false when it
	// has no name any more; it overrides path for reopening.
	locate func() (string, bool)

	wb writeBehind

	// peers are more handles of this file on other connections, and
	// peersTried is set once OpenPeers ran; both are guarded by mu.
	peers      []*File
	peersTried bool

	// created holds the server's attributes of a file Create made, valid
	// when createdOK is set; both are written only by Create.
	created   Attr
	createdOK bool
}

// Open opens the existing file p with os.O_* flags.
func (c *Client) Open(ctx context.Context, p string, flags int) (*File, error) {
	f, err := c.openOn(ctx, c.pick(), p, flags)
	if err != nil {
		return nil, c.classifyOpen(ctx, p, flags, err)
	}
	return f, nil
}

// newFile returns the File for p on slot, before it is opened. Its flags
// are those a reopen uses: without O_CREATE, O_EXCL and O_TRUNC.
func (c *Client) newFile(slot int, p string, flags int) *File {
	f := &File{c: c, slot: slot, flags: flags &^ (os.O_CREATE | os.O_EXCL | os.O_TRUNC), path: p}
	f.wb.init()
	return f
}

// Create creates p exclusively with permission bits mode, exactly (the
// server's umask does not apply), and opens it with os.O_* flags. On a
// server that applies requests in order, a stat of the new file follows
// the open without waiting for its reply, which gives the server's
// attributes of the file at no extra round trip (see CreatedAttr).
func (c *Client) Create(ctx context.Context, p string, flags int, mode uint32) (*File, error) {
	flags |= os.O_CREATE | os.O_EXCL
	f := c.newFile(c.pick(), p, flags)
	var created Attr
	var createdOK bool
	err := c.callOn(ctx, f.slot, func(cn *conn, retry bool) error {
		open := flags
		if retry {
			// The first attempt may have created the file already.
			open &^= os.O_EXCL
		}
		var sf *sftp.File
		var err error
		if c.inOrder && !retry {
			sf, created, createdOK, err = c.openThenStat(cn, p, open)
		} else {
			sf, err = cn.sftp.OpenFile(p, open)
		}
		if err != nil {
			return err
		}
		f.cn, f.sf = cn, sf
		return nil
	})
	if err != nil {
		return nil, c.classifyOpen(ctx, p, flags, err)
	}
	// OpenSSH creates the file with 0666 less its own umask because
	// pkg/sftp sends no attributes with OPEN; set the requested bits
	// unless the server is known to have given them already.
	got, known := created.Mode&0o7777, createdOK
	if !known {
		got, known = c.createdMode(&c.fileUmask, 0o666)
	}
	if !known {
		if a, err := f.Stat(ctx); err == nil {
			created, createdOK = a, true
			got, known = a.Mode&0o7777, true
		}
	}
	if known && c.fileUmask.Load() < 0 {
		c.fileUmask.Store(int32(0o666 &^ got))
	}
	if !known || got != mode&0o7777 {
		if err := f.Chmod(ctx, mode); err != nil {
			f.Close(ctx)
			return nil, err
		}
		created.Mode = created.Mode&^0o7777 | mode&0o7777
	}
	if createdOK {
		f.created, f.createdOK = created, true
	}
	return f, nil
}

// openThenStat opens p on cn and sends an lstat of p right behind the
// OPEN, so both replies come back within one round trip and the stat
// returns the attributes of the file the open made. ok is false when the
// stat could not be ordered after the open or failed.
func (c *Client) openThenStat(cn *conn, p string, flags int) (sf *sftp.File, a Attr, ok bool, err error) {
	po := c.sends.expectOpen(p)
	type result struct {
		sf  *sftp.File
		err error
	}
	opened := make(chan result, 1)
	go func() {
		sf, err := cn.sftp.OpenFile(p, flags)
		opened <- result{sf, err}
	}()
	var r result
	select {
	case <-po.sent:
		if po.cn == cn {
			fi, serr := cn.sftp.Lstat(p)
			if serr == nil {
				a, ok = attrFromInfo(fi), true
			}
		}
		r = <-opened
	case r = <-opened:
	}
	c.sends.dropOpen(p, po)
	if r.err != nil {
		return nil, Attr{}, false, r.err
	}
	return r.sf, a, ok && a.Mode&syscall.S_IFMT == syscall.S_IFREG, nil
}

// CreatedAttr returns the server's attributes of the file as Create made
// it, when they were fetched along with the open.
func (f *File) CreatedAttr() (Attr, bool) { return f.created, f.createdOK }

// createdMode returns the permission bits the server gives a new file or
// directory (base 0666 or 0777) and whether its umask, learned from the
// first create, is known.
func (c *Client) createdMode(umask *atomic.Int32, base uint32) (uint32, bool) {
	u := umask.Load()
	if u < 0 {
		return 0, false
	}
	return base &^ uint32(u), true
}

func (c *Client) classifyOpen(ctx context.Context, p string, flags int, err error) error {
	if errors.Is(err, ErrNotConnected) || errors.Is(err, ErrClosed) {
		return &OpError{Op: "open", Path: p, Errno: connErrno(err), Err: err}
	}
	errno := baseErrno(err)
	if errno != syscall.EIO && errno != syscall.ENOENT {
		return opError("open", p, errno, err)
	}
	a, serr := c.Lstat(ctx, p)
	switch {
	case serr == nil && flags&os.O_EXCL != 0:
		errno = syscall.EEXIST
	case serr == nil && a.IsDir():
		errno = syscall.EISDIR
	case serr != nil:
		errno = c.recoverPathErrno(ctx, p, errno)
		if errno == syscall.EIO {
			errno = c.diskFullErrno(ctx, p, errno)
		}
	}
	return opError("open", p, errno, err)
}

// callOn is call pinned to one slot of the pool.
func (c *Client) callOn(ctx context.Context, slot int, fn func(cn *conn, retry bool) error) error {
	deadline := c.deadline()
	retry := false
	for {
		cn, err := c.acquire(ctx, slot, deadline)
		if err != nil {
			return err
		}
		done := c.running(slot)
		err = runUntil(ctx, deadline, func() error { defer done(); return fn(cn, retry) })
		c.noteResult(err)
		if err == nil || errors.Is(err, ErrNotConnected) || !lostConn(cn, err) {
			return err
		}
		retry = true
	}
}

// runUntil runs fn in its own goroutine and returns its error, or
// ErrNotConnected when deadline passes first. A request stuck on a
// black-holed connection thus cannot hold its caller past the timeout.
//
// Cancellation of ctx is ignored: the kernel interrupts a request on any
// signal to the caller, and Go programs receive preemption signals all
// the time, so honouring it would fail healthy requests with EINTR. The
// operation timeout bounds every request instead.
func runUntil(ctx context.Context, deadline time.Time, fn func() error) error {
	ctx = context.WithoutCancel(ctx)
	done := make(chan error, 1)
	requestWorkers.run(func() { done <- fn() })
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return errors.Join(ErrNotConnected, context.DeadlineExceeded)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errReopen is returned by handle when the connection a reopen went to
// ended too; the caller tries again.
var errReopen = errors.New("remote: connection lost while reopening the file")

// handle returns the live SFTP handle, reopening the file after a
// reconnect.
func (f *File) handle(ctx context.Context, deadline time.Time) (*conn, *sftp.File, error) {
	f.mu.RLock()
	cn, sf, stale, closed := f.cn, f.sf, f.stale, f.closed
	f.mu.RUnlock()
	if closed {
		return nil, nil, ErrClosed
	}
	if !cn.isDead() {
		return cn, sf, nil
	}
	if stale != nil {
		return nil, nil, stale
	}

	newCn, err := f.c.acquire(ctx, f.slot, deadline)
	if err != nil {
		return nil, nil, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cn != cn {
		// Another request reopened the file meanwhile.
		return f.cn, f.sf, nil
	}
	start := time.Now()
	if f.locate != nil {
		p, ok := f.locate()
		if !ok {
			f.stale = errors.Join(ErrStale, errors.New("the file was unlinked while open"))
			f.c.log.Error("cannot reopen file after reconnect because it was unlinked; its descriptor now fails with EIO", "path", f.path)
			return nil, nil, f.stale
		}
		f.path = p
	}
	newSf, err := newCn.sftp.OpenFile(f.path, f.flags)
	if err != nil && lostConn(newCn, err) {
		// The new connection died too: try again on the next one.
		return nil, nil, errReopen
	}
	if err != nil {
		f.stale = errors.Join(ErrStale, err)
		f.c.log.Error("cannot reopen file after reconnect; its descriptor now fails with EIO", "path", f.path, "err", err)
		return nil, nil, f.stale
	}
	f.cn, f.sf = newCn, newSf
	f.c.log.Info("reopened file after reconnect", "path", f.path, "took", time.Since(start).Round(time.Millisecond))
	return newCn, newSf, nil
}

// do runs fn on the live handle, reopening and repeating it after the
// connection ends under it, until the operation timeout.
func (f *File) do(ctx context.Context, op string, fn func(sf *sftp.File, retry bool) error) error {
	deadline := f.c.deadline()
	retry := false
	for {
		cn, sf, err := f.handle(ctx, deadline)
		if errors.Is(err, errReopen) && time.Now().Before(deadline) {
			retry = true
			continue
		}
		if err != nil {
			return f.wrap(op, err)
		}
		done := f.c.running(f.slot)
		err = runUntil(ctx, deadline, func() error { defer done(); return fn(sf, retry) })
		f.c.noteResult(err)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrNotConnected) || !lostConn(cn, err) {
			return f.wrap(op, err)
		}
		retry = true
	}
}

func (f *File) wrap(op string, err error) error {
	f.mu.RLock()
	p := f.path
	f.mu.RUnlock()
	switch {
	case errors.Is(err, ErrStale), errors.Is(err, ErrClosed):
		return &OpError{Op: op, Path: p, Errno: syscall.EIO, Err: err}
	case errors.Is(err, ErrNotConnected):
		return &OpError{Op: op, Path: p, Errno: connErrno(err), Err: err}
	}
	errno := baseErrno(err)
	if errno == syscall.EIO && (op == "write" || op == "truncate" || op == "close" || op == "fsync") {
		errno = f.c.diskFullErrno(context.Background(), p, errno)
	}
	return opError(op, p, errno, err)
}

// ReadAt reads up to len(b) bytes at off. It returns fewer bytes only at
// the end of the file.
func (f *File) ReadAt(ctx context.Context, b []byte, off int64) (int, error) {
	var n int
	err := f.do(ctx, "read", func(sf *sftp.File, _ bool) error {
		n = 0
		checks := 0
		for n < len(b) {
			end := min(len(b), n+f.c.readSize)
			m, err := sf.ReadAt(b[n:end], off+int64(n))
			n += m
			if errors.Is(err, io.EOF) || (err == nil && m == 0) {
				// pkg/sftp reports both the server's EOF status and a
				// channel closed under the request as io.EOF. An fstat
				// distinguishes them: it fails on a dead connection, which
				// do then redials, and it shows whether data follows.
				fi, serr := sf.Stat()
				if serr != nil {
					return serr
				}
				if fi.Size() > off+int64(n) && checks < 3 {
					checks++
					continue
				}
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	f.c.counters.bytesRead.Add(uint64(n))
	return n, err
}

// WriteAt writes b at off and returns once the server acknowledged every
// byte. For a file opened with O_APPEND the server appends, whatever off
// is.
func (f *File) WriteAt(ctx context.Context, b []byte, off int64) (int, error) {
	var before int64 = -1
	if f.flags&os.O_APPEND != 0 {
		if a, err := f.Stat(ctx); err == nil {
			before = int64(a.Size)
		}
	}
	err := f.do(ctx, "write", func(sf *sftp.File, retry bool) error {
		if retry && before >= 0 && f.appendLanded(sf, b, before) {
			return nil
		}
		_, err := sf.WriteAt(b, off)
		return err
	})
	if err != nil {
		return 0, err
	}
	f.c.counters.bytesWritten.Add(uint64(len(b)))
	return len(b), nil
}

// appendLanded decides whether an O_APPEND write whose acknowledgement was
// lost reached the server: the file grew by exactly len(b) bytes from its
// size before the write, and ends with b.
func (f *File) appendLanded(sf *sftp.File, b []byte, before int64) bool {
	fi, err := sf.Stat()
	if err != nil || fi.Size() != before+int64(len(b)) {
		return false
	}
	tail := make([]byte, len(b))
	n, err := sf.ReadAt(tail, before)
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return n == len(b) && bytes.Equal(tail, b)
}

// Stat returns the attributes of the open file, after every queued write
// is acknowledged.
func (f *File) Stat(ctx context.Context) (Attr, error) {
	f.waitQuiet()
	var a Attr
	err := f.do(ctx, "fstat", func(sf *sftp.File, _ bool) error {
		fi, err := sf.Stat()
		if err != nil {
			return err
		}
		a = attrFromInfo(fi)
		return nil
	})
	return a, err
}

// Truncate sets the size of the open file.
func (f *File) Truncate(ctx context.Context, size uint64) error {
	// A write still in flight must not land after the new size; its
	// error, if any, stays for the next write, flush or sync.
	f.waitQuiet()
	return f.do(ctx, "truncate", func(sf *sftp.File, _ bool) error { return sf.Truncate(int64(size)) })
}

// Chmod sets the permission bits of the open file.
func (f *File) Chmod(ctx context.Context, mode uint32) error {
	return f.do(ctx, "chmod", func(sf *sftp.File, _ bool) error {
		return sf.Chmod(os.FileMode(mode&0o777) | modeBits(mode))
	})
}

// Sync requests that the server flush the file to stable storage, after
// it returned a write error that no sync of caller reported yet. Without
// the fsync@openssh.com extension it returns nil: every write was already
// acknowledged by the server, which is all SFTP can promise there.
func (f *File) Sync(ctx context.Context, caller uint32) error {
	if err := f.waitWrites(reportSync, caller); err != nil {
		return err
	}
	if !f.c.Capabilities().Fsync {
		return nil
	}
	return f.do(ctx, "fsync", func(sf *sftp.File, _ bool) error { return sf.Sync() })
}

// SetPath records that the file was renamed to p, for reopening.
func (f *File) SetPath(p string) {
	f.mu.Lock()
	f.path = p
	f.mu.Unlock()
}

// SetLocator sets the function that returns the file's current path, or
// false once it has no name, for reopening after a reconnect.
func (f *File) SetLocator(locate func() (string, bool)) {
	f.mu.Lock()
	f.locate = locate
	f.mu.Unlock()
}

// MarkUnlinked records that the file's name was removed: the open handle
// keeps working, but after a reconnect the file cannot be reopened.
func (f *File) MarkUnlinked() {
	f.mu.Lock()
	if f.stale == nil {
		f.stale = errors.Join(ErrStale, errors.New("the file was unlinked while open"))
	}
	f.mu.Unlock()
}

// Close waits for every queued write, then closes the remote handle. It
// returns a write error that no flush has reported.
func (f *File) Close(ctx context.Context) error {
	werr := f.WaitWrites(0)
	f.closePeers(ctx)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return werr
	}
	f.closed = true
	cn, sf := f.cn, f.sf
	f.mu.Unlock()
	if werr != nil {
		go sf.Close()
		return werr
	}
	if cn.isDead() {
		return nil
	}
	deadline := f.c.deadline()
	err := runUntil(ctx, deadline, sf.Close)
	if err != nil && !lostConn(cn, err) {
		return f.wrap("close", err)
	}
	return nil
}

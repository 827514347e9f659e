package remote

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// maxWriteBehind bounds the bytes of one File's writes that may be sent and
// not yet acknowledged.
const maxWriteBehind = 16 << 20

// peerStripe is the run of bytes written through one handle before the
// next peer takes over.
const peerStripe = 1 << 20

// earlyFlushBytes is the run of written bytes after which the server is
// asked, in the background, to start writing the file to its disk. A
// large file's final fsync then finds most of it written already: its
// disk works while the network carries the rest.
const earlyFlushBytes = 32 << 20

// writeBehind tracks the asynchronous writes of one File.
type writeBehind struct {
	mu   sync.Mutex // guards every field below
	cond *sync.Cond // signalled when a write ends
	// inflight are the byte ranges sent and not yet acknowledged.
	inflight map[*writeRange]struct{}
	bytes    int64
	// err is the latest failed write's error and errSeq counts failed
	// writes. The next write reports an error once, and so do the next
	// flush and the next sync of each calling thread (reported). A flush
	// from another process's close, such as a forked child's at exec,
	// thus cannot hide the error from the writer's own fsync or close.
	err      error
	errSeq   uint64
	reported map[reportKey]uint64
	// sinceFlush counts the bytes queued since the last early flush
	// began, and flushing is set while one runs.
	sinceFlush int64
	flushing   bool
}

// reporter names a kind of call that reports a failed write once.
type reporter int

const (
	reportWrite reporter = iota
	reportFlush
	reportSync
)

// reportKey is one account of reported write errors: a kind of call and
// the thread that made it (0 for writes, which report to any writer).
type reportKey struct {
	kind   reporter
	caller uint32
}

// maxReportKeys bounds the accounts kept; beyond it they start afresh,
// which reports an error again rather than never.
const maxReportKeys = 256

// takeErrLocked returns the latest write error that the account of kind
// and caller has not reported yet, and marks it reported there.
func (w *writeBehind) takeErrLocked(kind reporter, caller uint32) error {
	if w.errSeq == 0 {
		return nil
	}
	key := reportKey{kind, caller}
	if w.reported[key] == w.errSeq {
		return nil
	}
	if w.reported == nil || len(w.reported) >= maxReportKeys {
		w.reported = make(map[reportKey]uint64)
	}
	w.reported[key] = w.errSeq
	return w.err
}

type writeRange struct {
	off, end int64
	// sent tracks the data until it is handed to a channel; done is
	// closed when the write ended.
	sent *pendingWrite
	done chan struct{}
}

func (w *writeBehind) init() {
	w.cond = sync.NewCond(&w.mu)
	w.inflight = make(map[*writeRange]struct{})
}

// overlapsLocked reports whether [off, end) overlaps a write in flight, so
// that a later write to the same bytes is never reordered before it.
func (w *writeBehind) overlapsLocked(off, end int64) bool {
	for r := range w.inflight {
		if off < r.end && r.off < end {
			return true
		}
	}
	return false
}

// WriteBehind queues a copy of b for writing at off and returns before the
// server acknowledges it. An error of an earlier queued write is returned
// instead, once. Writes to overlapping ranges are sent in order. Files
// opened with O_APPEND write synchronously, since the order of appends is
// their content.
func (f *File) WriteBehind(ctx context.Context, b []byte, off int64) (int, error) {
	if f.append() {
		return f.WriteAt(ctx, b, off)
	}
	w := &f.wb
	end := off + int64(len(b))

	w.mu.Lock()
	if err := w.takeErrLocked(reportWrite, 0); err != nil {
		w.mu.Unlock()
		return 0, err
	}
	for w.bytes > 0 && (w.bytes+int64(len(b)) > maxWriteBehind || w.overlapsLocked(off, end)) {
		w.cond.Wait()
	}
	data := append([]byte(nil), b...)
	r := &writeRange{off: off, end: end, done: make(chan struct{})}
	if len(data) > 0 {
		r.sent = f.c.sends.trackWrite(data)
	}
	w.inflight[r] = struct{}{}
	w.bytes += int64(len(b))
	w.sinceFlush += int64(len(b))
	flush := w.sinceFlush >= earlyFlushBytes && !w.flushing
	if flush {
		w.sinceFlush, w.flushing = 0, true
	}
	w.mu.Unlock()
	if flush {
		go f.earlyFlush()
	}

	target := f
	if peers := f.Peers(); len(peers) > 1 {
		target = peers[int(off/peerStripe)%len(peers)]
	}
	go func() {
		_, err := target.WriteAt(context.Background(), data, off)
		if r.sent != nil {
			f.c.sends.untrack(r.sent)
		}
		close(r.done)
		w.mu.Lock()
		delete(w.inflight, r)
		w.bytes -= int64(len(data))
		if err != nil {
			w.err = err
			w.errSeq++
		}
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	return len(b), nil
}

// WaitWrites blocks until every queued write is acknowledged and returns
// the latest write error that no flush of caller has reported yet. caller
// identifies the thread that closes the file; 0 stands for gosshfs
// itself.
func (f *File) WaitWrites(caller uint32) error { return f.waitWrites(reportFlush, caller) }

func (f *File) waitWrites(kind reporter, caller uint32) error {
	w := &f.wb
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.inflight) > 0 {
		w.cond.Wait()
	}
	return w.takeErrLocked(kind, caller)
}

// Pending reports whether writes are queued and not yet acknowledged.
func (f *File) Pending() bool {
	w := &f.wb
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inflight) > 0
}

func (f *File) append() bool { return f.flags&os.O_APPEND != 0 }

// waitQuiet blocks until no write is in flight, leaving any error for the
// next write, flush or sync to report.
func (f *File) waitQuiet() {
	w := &f.wb
	w.mu.Lock()
	for len(w.inflight) > 0 {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// WaitQuiet blocks until every queued write has ended, without taking its
// error: the writer's next write, flush or sync reports it.
func (f *File) WaitQuiet() { f.waitQuiet() }

// ChtimesAfterWrites sets the file's access and modification times by
// path, ordered after every write queued so far, and waits for the writes
// and the change. It sends the change as soon as the writes are on their
// way, so the whole costs one round trip, when the server applies one
// session's requests in order and every queued write went to the
// connection of the file's handle. Otherwise it waits for the writes
// first. A failed
// write is left for the next write, flush or sync to report.
func (f *File) ChtimesAfterWrites(ctx context.Context, atime, mtime time.Time) error {
	if err := checkTimes(f.currentPath(), atime, mtime); err != nil {
		return err
	}
	if f.c.inOrder {
		if cn, ok := f.writesSentOn(); ok {
			p := f.currentPath()
			err := runUntil(ctx, f.c.deadline(), func() error { return cn.sftp.Chtimes(p, atime, mtime) })
			f.waitQuiet()
			f.mu.RLock()
			same := f.cn == cn
			f.mu.RUnlock()
			if err == nil && same && !cn.isDead() {
				f.c.noteResult(nil)
				return nil
			}
			if err != nil && !lostConn(cn, err) && !errors.Is(err, ErrNotConnected) {
				return f.c.setstatError(ctx, "utimens", p, err)
			}
			// The connection ended meanwhile: a write repeated on
			// another one may have landed after the change.
		}
	}
	f.waitQuiet()
	return f.c.Chtimes(ctx, f.currentPath(), atime, mtime, true)
}

// writesSentOn waits until every queued write has been handed to a
// channel and returns the connection of the file's handle when all of
// them went there, or false.
func (f *File) writesSentOn() (*conn, bool) {
	w := &f.wb
	w.mu.Lock()
	ranges := make([]*writeRange, 0, len(w.inflight))
	for r := range w.inflight {
		ranges = append(ranges, r)
	}
	w.mu.Unlock()
	f.mu.RLock()
	cn, closed := f.cn, f.closed
	f.mu.RUnlock()
	if closed || cn == nil || cn.isDead() {
		return nil, false
	}
	for _, r := range ranges {
		if r.sent == nil {
			continue
		}
		select {
		case <-r.sent.sent:
			if r.sent.cn != cn {
				return nil, false
			}
		case <-r.done:
		}
	}
	return cn, true
}

func (f *File) currentPath() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.locate != nil {
		if p, ok := f.locate(); ok {
			return p
		}
	}
	return f.path
}

// earlyFlush requests that the server write the file's data to disk. The
// request goes on the extension channel of the file's connection, so no
// write waits behind it. Only OpenSSH's sftp-server gets it, and a failure
// is only logged, because durability still comes from fsync and close.
func (f *File) earlyFlush() {
	defer func() {
		f.wb.mu.Lock()
		f.wb.flushing = false
		f.wb.mu.Unlock()
	}()
	if !f.c.inOrder || !f.c.Capabilities().Fsync {
		return
	}
	f.mu.RLock()
	cn := f.cn
	f.mu.RUnlock()
	if cn == nil || cn.isDead() {
		return
	}
	if err := cn.ext.fsyncPath(f.currentPath()); err != nil {
		f.c.log.Debug("early flush failed", "path", f.currentPath(), "err", err)
	}
}

package fs

import (
	"context"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// maxListAhead bounds the directory listings fetched in the background at
// once, and maxSubdirsAhead the subdirectories of one listing that are
// listed ahead of a tree walker.
const (
	maxListAhead    = 8
	maxQueuedAhead  = 256
	maxSubdirsAhead = 64
)

// lister fetches directory listings, once per directory at a time, and
// lists subdirectories ahead of a walker (ls -R, find, git status, tar).
type lister struct {
	fs     *filesystem
	sem    chan struct{}
	queued atomic.Int32

	mu       sync.Mutex // guards inflight
	inflight map[string]*listing
}

// listing is one READDIR sequence in flight.
type listing struct {
	done    chan struct{} // closed once entries and errno are set
	entries []cacheEntry
	errno   syscall.Errno
	// dirty is set, under lister.mu, when this mount changed the
	// directory while the listing was in flight: the reply may predate
	// the change, so it is not cached.
	dirty bool
}

func newLister(f *filesystem) *lister {
	return &lister{fs: f, sem: make(chan struct{}, maxListAhead), inflight: make(map[string]*listing)}
}

// list returns the listing of dir from the cache, from a fetch already in
// flight, or from a new fetch.
func (l *lister) list(ctx context.Context, dir string) ([]cacheEntry, syscall.Errno) {
	if entries, ok := l.fs.meta.GetDir(dir); ok {
		return entries, 0
	}
	ls, started := l.start(dir)
	if started {
		l.fetch(ctx, dir, ls)
	}
	// Interrupts are not honoured here, as in package remote: the
	// operation timeout bounds the wait.
	<-ls.done
	return ls.entries, ls.errno
}

// start returns the fetch of dir in flight, or registers a new one that
// the caller must run (started is true then).
func (l *lister) start(dir string) (*listing, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ls, ok := l.inflight[dir]; ok {
		return ls, false
	}
	ls := &listing{done: make(chan struct{})}
	l.inflight[dir] = ls
	return ls, true
}

// pending returns the fetch of dir in flight, or nil.
func (l *lister) pending(dir string) *listing {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[dir]
}

func (l *lister) fetch(ctx context.Context, dir string, ls *listing) {
	remoteEntries, err := l.fs.client.ReadDir(ctx, dir)
	if err != nil {
		ls.errno = toErrno(err)
	} else {
		ls.entries = make([]cacheEntry, len(remoteEntries))
		for i, e := range remoteEntries {
			ls.entries[i] = cacheEntry{Name: e.Name, Attr: e.Attr}
		}
		// Sorted as the cache keeps listings, so that every readdir shows
		// one order, the order in which siblings are fetched ahead.
		slices.SortFunc(ls.entries, func(a, b cacheEntry) int { return strings.Compare(a.Name, b.Name) })
	}
	l.mu.Lock()
	if err == nil && !ls.dirty {
		l.fs.meta.PutDir(dir, ls.entries)
	}
	delete(l.inflight, dir)
	l.mu.Unlock()
	close(ls.done)
}

// changed records that this mount changed directory dir, so that a listing
// of it in flight is not cached. Call it after the remote change succeeded
// and before the cache is updated.
func (l *lister) changed(dir string) {
	l.mu.Lock()
	if ls := l.inflight[dir]; ls != nil {
		ls.dirty = true
	}
	l.mu.Unlock()
}

// ahead lists dir in the background unless it is cached or in flight. At
// most maxListAhead listings run at once; up to maxQueuedAhead more wait
// for their turn, and beyond that a request is dropped.
func (l *lister) ahead(dir string) {
	if l.fs.kernelTimeout <= 0 {
		return
	}
	if _, ok := l.fs.meta.GetDir(dir); ok {
		return
	}
	if l.queued.Add(1) > maxQueuedAhead {
		l.queued.Add(-1)
		return
	}
	ls, started := l.start(dir)
	if !started {
		l.queued.Add(-1)
		return
	}
	go func() {
		defer l.queued.Add(-1)
		l.sem <- struct{}{}
		defer func() { <-l.sem }()
		l.fetch(context.Background(), dir, ls)
	}()
}

// subdirsAhead lists the first subdirectories of a listing that a reader
// just received in the background, so a walker finds them cached. It runs
// for each readdir, which keeps it one level ahead of the walker without
// crawling the tree on its own.
func (l *lister) subdirsAhead(dir string, entries []cacheEntry) {
	n := 0
	for _, e := range entries {
		if n == maxSubdirsAhead {
			return
		}
		if e.Attr.IsDir() {
			n++
			l.ahead(path.Join(dir, e.Name))
		}
	}
}

package fs

import (
	"context"
	"path"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/gosshfs/gosshfs/remote"
)

// Programs that read whole files of a directory one after another (tar,
// cp -r, grep -r) wait two round trips per file: open, then read. When a
// file is opened for reading, the next small files of its directory are
// fetched in the background, so their open costs only the revalidating
// stat and their data comes from memory.
const (
	siblingsAhead   = 8         // files fetched ahead of the reader
	maxSiblingSize  = 256 << 10 // larger files are read the usual way
	siblingBudget   = 16 << 20  // bytes held for all prefetched files
	maxSiblingFetch = 8         // fetches in flight at once
)

// siblingCache holds the contents of small files fetched ahead.
type siblingCache struct {
	fs  *filesystem
	sem chan struct{}

	mu      sync.Mutex // guards entries and bytes
	entries map[string]*content
	bytes   int64
}

// content is one prefetched file.
type content struct {
	done chan struct{} // closed once data, attr and err are set
	data []byte
	attr remote.Attr
	err  error
	// started is when the fetch began: the data is at least this fresh.
	started time.Time
}

func newSiblingCache(f *filesystem) *siblingCache {
	return &siblingCache{fs: f, sem: make(chan struct{}, maxSiblingFetch), entries: make(map[string]*content)}
}

// take removes and returns the prefetched content of p, or nil.
func (s *siblingCache) take(p string) *content {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.entries[p]
	if c == nil {
		return nil
	}
	delete(s.entries, p)
	s.bytes -= int64(cap(c.data))
	return c
}

// ahead starts fetching the small regular files that follow name in the
// cached listing of dir.
func (s *siblingCache) ahead(dir, name string) {
	if s.fs.kernelTimeout <= 0 {
		return
	}
	entries, ok := s.fs.meta.GetDir(dir)
	if !ok {
		return
	}
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Name > name })
	started := 0
	for ; i < len(entries) && started < siblingsAhead; i++ {
		e := entries[i]
		if e.Attr.Mode&syscall.S_IFMT != syscall.S_IFREG || e.Attr.Size == 0 || e.Attr.Size > maxSiblingSize {
			continue
		}
		p := path.Join(dir, e.Name)
		c, ok := s.reserve(p, int64(e.Attr.Size))
		if !ok {
			if c == nil {
				return
			}
			continue
		}
		started++
		c.attr = e.Attr
		go s.fetch(p, int64(e.Attr.Size), c)
	}
}

// reserve registers a fetch of p. It returns false with the existing entry
// when p is cached or in flight, and false with nil when the budget is
// spent.
func (s *siblingCache) reserve(p string, size int64) (*content, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.entries[p]; c != nil {
		select {
		case <-c.done:
			if time.Since(c.started) < s.fs.kernelTimeout {
				return c, false
			}
			delete(s.entries, p)
			s.bytes -= int64(cap(c.data))
		default:
			return c, false
		}
	}
	if s.bytes+size > siblingBudget {
		return nil, false
	}
	c := &content{done: make(chan struct{}), started: time.Now(), data: make([]byte, size)}
	s.entries[p] = c
	s.bytes += size
	return c, true
}

// fetch reads the file into c.data. c.attr holds the attributes from the
// listing, taken before the fetch began, and usable compares them with
// the server's at open. A change after the listing shows there as another
// size or mtime, or as an mtime too close to the fetch to rule out a
// same-second rewrite.
func (s *siblingCache) fetch(p string, size int64, c *content) {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	defer close(c.done)
	ctx := context.Background()
	c.started = time.Now()

	file, err := s.fs.client.Open(ctx, p, syscall.O_RDONLY)
	if err != nil {
		c.err = err
		return
	}
	defer func() { go file.Close(context.Background()) }()

	n, err := file.ReadAt(ctx, c.data, 0)
	switch {
	case err != nil:
		c.err = err
	case int64(n) != size:
		// The file changed size since it was listed.
		c.err = syscall.ESTALE
	}
	c.data = c.data[:n]
}

// usable reports whether c holds the current content of a file whose
// fresh attributes are a: same size, mtime and type, and fetched long
// enough after the mtime that a same-second rewrite cannot hide in it.
func (c *content) usable(a remote.Attr) bool {
	select {
	case <-c.done:
	default:
		return false
	}
	return c.err == nil && c.attr.Size == a.Size && c.attr.Mtime == a.Mtime &&
		c.attr.Mode == a.Mode && c.started.Sub(time.Unix(int64(a.Mtime), 0)) > dataSettle
}

package cache

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBytes is the size bound of a [Meta] when Options.MaxBytes is 0.
const DefaultMaxBytes = 32 << 20

// Options configures a [Meta]. The zero value disables caching because TTL
// is 0.
type Options struct {
	// TTL is how long an entry is trusted after it is stored. A value of
	// zero or less disables caching, so every lookup misses.
	TTL time.Duration
	// MaxBytes bounds the estimated memory of all entries. A value of zero
	// or less means DefaultMaxBytes.
	MaxBytes int64
	// Now is the clock. Nil means time.Now, and tests inject a fake one.
	Now func() time.Time
}

// Lookup is the result of a cache lookup.
type Lookup int

const (
	// Miss means the cache has no fresh entry, so the caller must send the
	// request to the server.
	Miss Lookup = iota
	// Hit means the returned attributes are fresh.
	Hit
	// Negative means the path is fresh in the cache as "does not exist".
	Negative
	// Unlisted means a fresh listing that this client made, of a
	// directory it created, lacks the name: nothing created there through
	// this client has that name. See PutMadeDir.
	Unlisted
)

// String returns the constant's name, for test and log output.
func (l Lookup) String() string {
	switch l {
	case Miss:
		return "Miss"
	case Hit:
		return "Hit"
	case Negative:
		return "Negative"
	case Unlisted:
		return "Unlisted"
	}
	return "Lookup(" + strconv.Itoa(int(l)) + ")"
}

// Entry is one name in a directory listing with its attributes.
type Entry[A any] struct {
	Name string
	Attr A
	// stale is set in a listing when the entry's attributes changed
	// locally and are not known: the name is still listed, but
	// LookupChild returns Miss for it.
	stale bool
}

// Stats are counters and gauges of a [Meta]. The counters only grow, and
// [Meta.Clear] does not reset them.
type Stats struct {
	// Hits, Misses and Negatives count lookup results. GetDir counts a
	// listing found as a hit and a listing not found as a miss.
	Hits, Misses, Negatives uint64
	// Evictions counts entries dropped to stay under MaxBytes.
	Evictions uint64
	// Bytes is the estimated memory of the stored entries.
	Bytes int64
	// Entries counts stored attribute, negative and listing entries.
	Entries int64
}

// Meta is a metadata cache of attributes, negative entries and complete
// directory listings, keyed by remote path. It is safe for concurrent use.
type Meta[A any] struct {
	// Immutable after NewMeta.
	ttl      time.Duration
	maxBytes int64
	now      func() time.Time
	sizeOf   func(A) int

	mu sync.Mutex
	// Guarded by mu.
	attrs map[string]*node[A] // attribute and negative entries by path
	dirs  map[string]*node[A] // listings by directory path
	lru   node[A]             // sentinel of the LRU list, most recent at lru.next
	bytes int64               // sum of size over all nodes
	seq   uint64              // number of the latest put, see node.seq
	stats Stats               // counters only, Bytes and Entries are computed
}

// NewMeta returns an empty cache. sizeOf estimates the bytes one attribute
// value uses, including memory it points to. Nil means a fixed estimate of
// 128 bytes. sizeOf must be pure because it may run with the mutex held.
func NewMeta[A any](o Options, sizeOf func(A) int) *Meta[A] {
	c := &Meta[A]{
		ttl:      o.TTL,
		maxBytes: o.MaxBytes,
		now:      o.Now,
		sizeOf:   sizeOf,
		attrs:    make(map[string]*node[A]),
		dirs:     make(map[string]*node[A]),
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sizeOf == nil {
		c.sizeOf = func(A) int { return defaultAttrBytes }
	}
	c.lru.next = &c.lru
	c.lru.prev = &c.lru
	return c
}

func (c *Meta[A]) enabled() bool { return c.ttl > 0 }

// GetAttr looks up the attributes of path. It returns Hit with a fresh
// attribute entry, Negative with a fresh negative entry, and Miss otherwise.
// It does not consult the parent's listing, which LookupChild does.
func (c *Meta[A]) GetAttr(p string) (A, Lookup) {
	var zero A
	if !c.enabled() {
		c.countMiss()
		return zero, Miss
	}
	p = path.Clean(p)
	now := c.now()

	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.freshLocked(c.attrs[p], now)
	return c.resultLocked(n)
}

// GetDir returns a fresh complete listing of dir, sorted by name, that came
// from the server (not one PutMadeDir started). The slice
// is a copy that the caller may modify. The attributes in it are those of
// the listing, updated by later PutAttr calls of the listed children.
func (c *Meta[A]) GetDir(dir string) ([]Entry[A], bool) {
	if !c.enabled() {
		c.countMiss()
		return nil, false
	}
	dir = path.Clean(dir)
	now := c.now()

	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.freshLocked(c.dirs[dir], now)
	if n == nil || n.made {
		c.stats.Misses++
		return nil, false
	}
	c.stats.Hits++
	return slices.Clone(n.entries), true
}

// LookupChild looks up name in dir, as a FUSE lookup does. It uses whichever
// of two fresh sources was put last: the child's own entry, or dir's
// complete listing, which yields Hit when name is listed and Negative when
// it is not (Unlisted for a listing PutMadeDir started). With neither source fresh, or when name is not a single path
// element, it returns Miss.
func (c *Meta[A]) LookupChild(dir, name string) (A, Lookup) {
	var zero A
	if !c.enabled() || !validName(name) {
		c.countMiss()
		return zero, Miss
	}
	dir = path.Clean(dir)
	now := c.now()

	// Build the child path in a stack buffer, because a map index with
	// string(bytes) does not allocate and lookups are the hot path.
	var buf [256]byte
	key := appendChild(buf[:0], dir, name)

	c.mu.Lock()
	defer c.mu.Unlock()
	child := c.freshLocked(c.attrs[string(key)], now)
	listing := c.freshLocked(c.dirs[dir], now)
	if listing == nil || (child != nil && listing.seq <= child.seq) {
		return c.resultLocked(child)
	}

	i, found := searchEntries(listing.entries, name)
	if !found {
		c.stats.Negatives++
		if listing.made {
			return zero, Unlisted
		}
		return zero, Negative
	}
	if listing.entries[i].stale {
		c.stats.Misses++
		return zero, Miss
	}
	c.stats.Hits++
	return listing.entries[i].Attr, Hit
}

// Stats returns a snapshot of the counters and the current size.
func (c *Meta[A]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes = c.bytes
	s.Entries = int64(len(c.attrs) + len(c.dirs))
	return s
}

func (c *Meta[A]) countMiss() {
	c.mu.Lock()
	c.stats.Misses++
	c.mu.Unlock()
}

// freshLocked returns n if it is fresh at now and marks it recently used. It
// removes a stale n and returns nil.
func (c *Meta[A]) freshLocked(n *node[A], now time.Time) *node[A] {
	if n == nil {
		return nil
	}
	if !now.Before(n.expires) {
		c.removeLocked(n)
		return nil
	}
	c.moveToFrontLocked(n)
	return n
}

// resultLocked turns an attribute or negative node, or nil, into a lookup
// result and counts it.
func (c *Meta[A]) resultLocked(n *node[A]) (A, Lookup) {
	var zero A
	switch {
	case n == nil:
		c.stats.Misses++
		return zero, Miss
	case n.kind == negativeNode:
		c.stats.Negatives++
		return zero, Negative
	default:
		c.stats.Hits++
		return n.attr, Hit
	}
}

// validName reports whether name is one path element that a listing can
// contain.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// appendChild appends the path of name inside dir to b. dir must be clean.
func appendChild(b []byte, dir, name string) []byte {
	b = append(b, dir...)
	if dir != "/" {
		b = append(b, '/')
	}
	return append(b, name...)
}

func childPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// searchEntries finds name in entries, which must be sorted by name.
func searchEntries[A any](entries []Entry[A], name string) (int, bool) {
	return slices.BinarySearchFunc(entries, name, func(e Entry[A], name string) int {
		return strings.Compare(e.Name, name)
	})
}

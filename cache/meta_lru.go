package cache

import (
	"fmt"
	"strings"
	"time"
)

// Size estimates in bytes. They approximate the Go heap cost on a 64-bit
// platform and are not measured per entry.
const (
	// defaultAttrBytes is used for each attribute when NewMeta gets no sizeOf.
	defaultAttrBytes = 128
	// nodeOverhead covers the node struct without its attribute, the map
	// slot and the key's string header.
	nodeOverhead = 160
	// listedEntryOverhead covers the name's string header in a listing.
	listedEntryOverhead = 16
)

type nodeKind uint8

const (
	attrNode nodeKind = iota
	negativeNode
	listingNode
)

// node is one cache entry and an element of the intrusive LRU list.
type node[A any] struct {
	prev, next *node[A]

	path    string
	kind    nodeKind
	expires time.Time // put time plus TTL, the first instant the entry is stale
	size    int64     // estimated bytes, counted in Meta.bytes
	// seq numbers the put that stored the entry, so a larger seq is newer
	// information even when the clock did not advance between two puts.
	seq uint64

	attr    A          // attrNode only
	entries []Entry[A] // listingNode only, sorted by name, never handed out
	// made marks a listing that PutMadeDir started and only this client's
	// own changes filled.
	made bool
}

func (c *Meta[A]) attrSize(a A) int64 {
	return max(int64(c.sizeOf(a)), 0)
}

func (c *Meta[A]) mapFor(kind nodeKind) map[string]*node[A] {
	if kind == listingNode {
		return c.dirs
	}
	return c.attrs
}

// storeLocked replaces the entry with n's path in m by n and evicts the
// least recently used entries until the cache fits MaxBytes. An n larger
// than MaxBytes is not stored, but the entry it replaces is still dropped.
func (c *Meta[A]) storeLocked(m map[string]*node[A], n *node[A]) {
	c.dropLocked(m, n.path)
	if n.size > c.maxBytes {
		return
	}
	m[n.path] = n
	c.insertFrontLocked(n)
	c.bytes += n.size
	c.evictLocked()
}

func (c *Meta[A]) removeLocked(n *node[A]) {
	delete(c.mapFor(n.kind), n.path)
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
	c.bytes -= n.size
}

func (c *Meta[A]) evictLocked() {
	for c.bytes > c.maxBytes {
		oldest := c.lru.prev
		if oldest == &c.lru {
			panic(fmt.Sprintf("BUG: cache: %d bytes accounted but no entries left", c.bytes))
		}
		c.removeLocked(oldest)
		c.stats.Evictions++
	}
}

func (c *Meta[A]) insertFrontLocked(n *node[A]) {
	n.prev = &c.lru
	n.next = c.lru.next
	c.lru.next.prev = n
	c.lru.next = n
}

func (c *Meta[A]) moveToFrontLocked(n *node[A]) {
	if c.lru.next == n {
		return
	}
	n.prev.next = n.next
	n.next.prev = n.prev
	c.insertFrontLocked(n)
}

// checkInvariants panics with a "BUG:" message unless the LRU list and the
// maps contain the same nodes, the byte count equals the sum of the node
// sizes, the cache fits MaxBytes, and every listing is sorted. Tests call it.
func (c *Meta[A]) checkInvariants() {
	c.mu.Lock()
	defer c.mu.Unlock()

	total := len(c.attrs) + len(c.dirs)
	count := 0
	var sum int64
	for n := c.lru.next; n != &c.lru; n = n.next {
		count++
		if count > total {
			panic(fmt.Sprintf("BUG: cache: LRU list is longer than the %d mapped entries", total))
		}
		if n.next.prev != n {
			panic(fmt.Sprintf("BUG: cache: broken LRU link after %q", n.path))
		}
		if c.mapFor(n.kind)[n.path] != n {
			panic(fmt.Sprintf("BUG: cache: entry %q of kind %d is in the LRU list but not in its map", n.path, n.kind))
		}
		if want := c.expectedSize(n); n.size != want {
			panic(fmt.Sprintf("BUG: cache: entry %q accounts %d bytes, expected %d", n.path, n.size, want))
		}
		checkListing(n)
		sum += n.size
	}

	if count != total {
		panic(fmt.Sprintf("BUG: cache: LRU list has %d entries but the maps have %d", count, total))
	}
	if sum != c.bytes {
		panic(fmt.Sprintf("BUG: cache: accounted %d bytes but the entries sum to %d", c.bytes, sum))
	}
	if c.bytes > c.maxBytes {
		panic(fmt.Sprintf("BUG: cache: %d bytes exceed MaxBytes %d", c.bytes, c.maxBytes))
	}
}

func (c *Meta[A]) expectedSize(n *node[A]) int64 {
	size := nodeOverhead + int64(len(n.path))
	switch n.kind {
	case attrNode:
		size += c.attrSize(n.attr)
	case listingNode:
		for _, e := range n.entries {
			size += listedEntryOverhead + int64(len(e.Name)) + c.attrSize(e.Attr)
		}
	}
	return size
}

func checkListing[A any](n *node[A]) {
	if n.kind != listingNode {
		if n.entries != nil {
			panic(fmt.Sprintf("BUG: cache: non-listing entry %q has listed names", n.path))
		}
		return
	}
	for i, e := range n.entries {
		if !validName(e.Name) {
			panic(fmt.Sprintf("BUG: cache: listing %q contains invalid name %q", n.path, e.Name))
		}
		if i > 0 && strings.Compare(n.entries[i-1].Name, e.Name) >= 0 {
			panic(fmt.Sprintf("BUG: cache: listing %q is not strictly sorted at %q", n.path, e.Name))
		}
	}
}

package cache

import (
	"path"
	"slices"
	"strings"
)

// PutAttr stores the attributes of path. When the parent has a listing that
// contains the name, the listed attributes are updated too. When the listing
// lacks the name, it is no longer complete and is dropped.
func (c *Meta[A]) PutAttr(p string, a A) {
	if !c.enabled() {
		return
	}
	p = path.Clean(p)
	attrSize := c.attrSize(a)
	n := &node[A]{
		path:    p,
		kind:    attrNode,
		attr:    a,
		expires: c.now().Add(c.ttl),
		size:    nodeOverhead + int64(len(p)) + attrSize,
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	n.seq = c.nextSeqLocked()
	c.storeLocked(c.attrs, n)
	c.reconcileListingLocked(p, &a, attrSize)
}

// PutNegative stores that path does not exist. It drops the path's own
// listing, and the parent's listing when that lists the name.
func (c *Meta[A]) PutNegative(p string) {
	if !c.enabled() {
		return
	}
	p = path.Clean(p)
	n := &node[A]{
		path:    p,
		kind:    negativeNode,
		expires: c.now().Add(c.ttl),
		size:    nodeOverhead + int64(len(p)),
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	n.seq = c.nextSeqLocked()
	c.storeLocked(c.attrs, n)
	c.dropLocked(c.dirs, p)
	c.reconcileListingLocked(p, nil, 0)
}

// PutDir stores entries as the complete listing of dir and an attribute
// entry for each child. It skips names that are empty, ".",
// ".." or contain a slash, and keeps the first of duplicate names. It drops
// a negative entry of dir. PutDir does not modify entries.
//
// NOTE: Attribute entries of children missing from the new listing are kept
// until they expire, because finding them would take a scan of the cache.
// GetAttr may return them, but LookupChild prefers the newer listing.
func (c *Meta[A]) PutDir(dir string, entries []Entry[A]) {
	if !c.enabled() {
		return
	}
	dir = path.Clean(dir)
	listed := sortedListing(entries)
	expires := c.now().Add(c.ttl)

	listing := &node[A]{
		path:    dir,
		kind:    listingNode,
		entries: listed,
		expires: expires,
		size:    nodeOverhead + int64(len(dir)),
	}
	children := make([]*node[A], len(listed))
	for i, e := range listed {
		attrSize := c.attrSize(e.Attr)
		p := childPath(dir, e.Name)
		children[i] = &node[A]{
			path:    p,
			kind:    attrNode,
			attr:    e.Attr,
			expires: expires,
			size:    nodeOverhead + int64(len(p)) + attrSize,
		}
		listing.size += listedEntryOverhead + int64(len(e.Name)) + attrSize
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	// The listing and its children share one seq because they are the
	// same information.
	seq := c.nextSeqLocked()
	if n := c.attrs[dir]; n != nil && n.kind == negativeNode {
		c.removeLocked(n)
	}
	for _, child := range children {
		child.seq = seq
		c.storeLocked(c.attrs, child)
	}
	listing.seq = seq
	// Store the listing last so that its own children cannot evict it
	// unless it alone exceeds MaxBytes.
	c.storeLocked(c.dirs, listing)
}

// PutMadeDir records that this client just created the directory dir, so
// it holds only what the client creates in it from now on, for the TTL.
// LookupChild returns Unlisted for other names, which spares a lookup
// round trip for each file an extraction or a copy creates. GetDir does
// not serve such a listing: a reader asks the server, and the server's
// listing replaces this one, so a name another client created there
// shows up at the next listing, or after the TTL.
func (c *Meta[A]) PutMadeDir(dir string) {
	if !c.enabled() {
		return
	}
	dir = path.Clean(dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.attrs[dir]; n != nil && n.kind == negativeNode {
		c.removeLocked(n)
	}
	c.storeLocked(c.dirs, &node[A]{
		path:    dir,
		kind:    listingNode,
		made:    true,
		expires: c.now().Add(c.ttl),
		size:    nodeOverhead + int64(len(dir)),
		seq:     c.nextSeqLocked(),
	})
}

// Invalidate drops the attribute or negative entry and the listing of path,
// and the listing and attributes of its parent. Call it after a local
// create, unlink, write or setattr on path succeeds, and for both paths of
// a rename. The parent's attributes go too because creating or removing a
// name changes the directory's mtime. Its cost is a few map operations.
func (c *Meta[A]) Invalidate(p string) {
	if !c.enabled() {
		return
	}
	p = path.Clean(p)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(c.attrs, p)
	c.dropLocked(c.dirs, p)
	c.dropParentLocked(p)
}

// InvalidateTree drops path, every entry below it, and the parent's listing
// and attributes. Call it after a local rmdir or a rename of a directory.
// It scans all entries, so it costs time linear in Stats().Entries.
func (c *Meta[A]) InvalidateTree(p string) {
	if !c.enabled() {
		return
	}
	p = path.Clean(p)

	c.mu.Lock()
	defer c.mu.Unlock()
	if p == "/" {
		c.clearLocked()
		return
	}
	prefix := p + "/"
	for _, m := range []map[string]*node[A]{c.attrs, c.dirs} {
		for key, n := range m {
			if key == p || strings.HasPrefix(key, prefix) {
				c.removeLocked(n)
			}
		}
	}
	c.dropParentLocked(p)
}

// Clear drops every entry. The Stats counters keep their values.
func (c *Meta[A]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *Meta[A]) clearLocked() {
	clear(c.attrs)
	clear(c.dirs)
	c.lru.next = &c.lru
	c.lru.prev = &c.lru
	c.bytes = 0
}

func (c *Meta[A]) nextSeqLocked() uint64 {
	c.seq++
	return c.seq
}

func (c *Meta[A]) dropLocked(m map[string]*node[A], key string) {
	if n := m[key]; n != nil {
		c.removeLocked(n)
	}
}

func (c *Meta[A]) dropParentLocked(p string) {
	if p == "/" {
		return
	}
	parent := path.Dir(p)
	c.dropLocked(c.attrs, parent)
	c.dropLocked(c.dirs, parent)
}

// reconcileListingLocked keeps the parent's listing consistent with new
// information about one child. attr is nil when the child does not exist, and attrSize
// is the estimated size of *attr.
func (c *Meta[A]) reconcileListingLocked(p string, attr *A, attrSize int64) {
	if p == "/" {
		return
	}
	listing := c.dirs[path.Dir(p)]
	if listing == nil {
		return
	}
	i, found := searchEntries(listing.entries, path.Base(p))
	if found != (attr != nil) {
		c.removeLocked(listing)
		return
	}
	if attr == nil {
		return
	}

	// Updating in place is safe because GetDir returns copies.
	delta := attrSize - c.attrSize(listing.entries[i].Attr)
	listing.entries[i].Attr = *attr
	listing.entries[i].stale = false
	listing.size += delta
	c.bytes += delta
	c.evictLocked()
}

// sortedListing returns a new slice of the valid entries sorted by name,
// without duplicate names.
func sortedListing[A any](entries []Entry[A]) []Entry[A] {
	listed := make([]Entry[A], 0, len(entries))
	for _, e := range entries {
		if validName(e.Name) {
			listed = append(listed, e)
		}
	}
	slices.SortStableFunc(listed, func(a, b Entry[A]) int {
		return strings.Compare(a.Name, b.Name)
	})
	listed = slices.CompactFunc(listed, func(a, b Entry[A]) bool {
		return a.Name == b.Name
	})
	return slices.Clip(listed)
}

// AddChild records a name this client created, with its attributes: the
// parent's listing, when cached, gains the name instead of being dropped,
// and the parent's attributes go because its mtime changed.
func (c *Meta[A]) AddChild(p string, a A) {
	if !c.enabled() {
		return
	}
	p = path.Clean(p)
	if p == "/" {
		return
	}
	attrSize := c.attrSize(a)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(c.dirs, p)
	c.storeLocked(c.attrs, &node[A]{
		path:    p,
		kind:    attrNode,
		attr:    a,
		expires: c.now().Add(c.ttl),
		size:    nodeOverhead + int64(len(p)) + attrSize,
		seq:     c.nextSeqLocked(),
	})
	parent := path.Dir(p)
	c.dropLocked(c.attrs, parent)
	listing := c.dirs[parent]
	if listing == nil {
		return
	}
	name := path.Base(p)
	i, found := searchEntries(listing.entries, name)
	if found {
		delta := attrSize - c.attrSize(listing.entries[i].Attr)
		listing.entries[i] = Entry[A]{Name: name, Attr: a}
		listing.size += delta
		c.bytes += delta
	} else {
		listing.entries = slices.Insert(listing.entries, i, Entry[A]{Name: name, Attr: a})
		delta := listedEntryOverhead + int64(len(name)) + attrSize
		listing.size += delta
		c.bytes += delta
	}
	listing.seq = c.nextSeqLocked()
	c.evictLocked()
}

// RemoveTree records that this client removed p (unlink, rmdir, or the
// source of a rename): p and everything below it are dropped, a negative
// entry for p is stored, and the parent's listing, when cached, loses the
// name instead of being dropped. It scans all entries when p has
// descendants cached, so it costs time linear in Stats().Entries then.
func (c *Meta[A]) RemoveTree(p string) {
	if !c.enabled() {
		return
	}
	p = path.Clean(p)
	if p == "/" {
		c.Clear()
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(c.attrs, p)
	if c.dirs[p] != nil {
		prefix := p + "/"
		for _, m := range []map[string]*node[A]{c.attrs, c.dirs} {
			for key, n := range m {
				if key == p || strings.HasPrefix(key, prefix) {
					c.removeLocked(n)
				}
			}
		}
	}
	c.storeLocked(c.attrs, &node[A]{
		path:    p,
		kind:    negativeNode,
		expires: c.now().Add(c.ttl),
		size:    nodeOverhead + int64(len(p)),
		seq:     c.nextSeqLocked(),
	})
	parent := path.Dir(p)
	c.dropLocked(c.attrs, parent)
	listing := c.dirs[parent]
	if listing == nil {
		return
	}
	if i, found := searchEntries(listing.entries, path.Base(p)); found {
		e := listing.entries[i]
		delta := listedEntryOverhead + int64(len(e.Name)) + c.attrSize(e.Attr)
		listing.entries = slices.Delete(listing.entries, i, i+1)
		listing.size -= delta
		c.bytes -= delta
	}
	listing.seq = c.nextSeqLocked()
}

// DropAttr drops the attributes of p after a local change whose result
// is not known (a write): the next lookup or getattr goes to the server. The
// parent's listing keeps the name.
func (c *Meta[A]) DropAttr(p string) {
	if !c.enabled() {
		return
	}
	p = path.Clean(p)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(c.attrs, p)
	if p == "/" {
		return
	}
	if listing := c.dirs[path.Dir(p)]; listing != nil {
		if i, found := searchEntries(listing.entries, path.Base(p)); found {
			listing.entries[i].stale = true
		}
	}
}

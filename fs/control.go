package fs

import (
	"path"
	"strings"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/gosshfs/gosshfs/remote"
)

// MountStats is a snapshot of a mount's cache use.
type MountStats struct {
	CacheHits, CacheMisses, CacheNegatives uint64
	CacheEntries                           int64
	CacheBytes                             int64
}

// Stats returns the metadata cache's counters.
func (m *Mount) Stats() MountStats {
	st := m.fs.meta.Stats()
	return MountStats{
		CacheHits:      st.Hits,
		CacheMisses:    st.Misses,
		CacheNegatives: st.Negatives,
		CacheEntries:   int64(st.Entries),
		CacheBytes:     int64(st.Bytes),
	}
}

// Client returns the remote client the mount serves from.
func (m *Mount) Client() *remote.Client { return m.fs.client }

// Refresh drops cached attributes, listings and file data for rel, a path
// relative to the mount root ("" for the whole mount), and everything
// below it, and has the kernel drop them, so that the next access reaches
// the server.
func (m *Mount) Refresh(rel string) error {
	rel = strings.Trim(path.Clean("/"+rel), "/")
	m.fs.meta.InvalidateTree(m.fs.remotePath(rel))

	node := m.fs.root.EmbeddedInode()
	if rel != "" {
		for _, name := range strings.Split(rel, "/") {
			child := node.GetChild(name)
			if child == nil {
				parent := node
				// Unknown to the kernel below this point: drop the name
				// from the parent's dentry cache and stop.
				parent.NotifyEntry(name)
				return nil
			}
			node = child
		}
	}
	m.invalidateKernel(node)
	return nil
}

// invalidateKernel drops the kernel's attributes, page cache and child
// entries for node and its known descendants, and the data state of each.
func (m *Mount) invalidateKernel(node *gofs.Inode) {
	if n, ok := node.Operations().(*Node); ok {
		n.mu.Lock()
		n.dataValid = false
		n.mu.Unlock()
	}
	node.NotifyContent(0, 0)
	for name, child := range node.Children() {
		m.invalidateKernel(child)
		node.NotifyEntry(name)
	}
}

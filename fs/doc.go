// Package fs serves a remote directory as a FUSE file system: it turns the
// kernel's VFS calls, as go-fuse's node API delivers them, into operations
// of a remote.Client.
//
// # Nodes and paths
//
// Every Node stands for one remote path, which is computed from go-fuse's
// inode tree on each call (Inode.Path), so a rename needs no bookkeeping
// beyond what go-fuse does. A Node keeps its inode number for as long as
// the kernel keeps it; a lookup that finds another file type under the same
// name makes a new Node.
//
// # Caching
//
// Attributes, listings and negative lookups are kept in a cache.Meta for
// half the mount's cache time, and the kernel caches entries and
// attributes for the other half, so a change made on the server shows
// within the cache time. Negative entries are never cached by the kernel:
// every miss reaches this package, which answers it from a cached listing
// when one is fresh. File contents follow close-to-open consistency: each
// open fetches the file's attributes from the server and keeps the
// kernel's page cache only when size and mtime are unchanged and the mtime
// is older than the moment the data was cached by more than SFTP's
// one-second mtime resolution.
//
// # Errors
//
// Every error reaches the kernel through toErrno (errno.go), which never
// returns ENOSYS: the kernel would take that as "not implemented" and stop
// sending flush, fsync or create for the rest of the mount.
//
// # Locking
//
// Node.mu guards a node's open-handle set and data-cache validity; it is
// never held across a remote call. Handle.mu guards a handle's deferred
// error. Lock order: Node.mu before Handle.mu.
package fs

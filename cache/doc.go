// Package cache serves the file system's hot read path from memory and
// decides how far to read ahead of a sequential reader. It imports neither
// FUSE nor SFTP, so the file system layer owns every remote call and stores
// the results here.
//
// # What it owns
//
// [Meta] stores, per remote path, the last known attributes, the fact that
// the path does not exist (a negative entry), and complete directory
// listings. It is generic over the attribute type. The cache is bounded by an
// estimated byte size and evicts the least recently used entries. [ReadAhead]
// keeps the per-handle state that tells sequential reads from random ones.
//
// Paths are absolute, slash-separated remote paths such as "/a/b", with "/"
// as the root. Every method passes them through [path.Clean], so "/a/" and
// "/a" name the same entry.
//
// # Freshness
//
// An entry stored at time t is fresh while Now() < t+TTL, and a stale entry
// is treated as absent and removed when a lookup finds it. [Meta.PutDir]
// stores a listing and an attribute entry per child, all with the same time,
// but each expires on its own afterwards. A later [Meta.PutAttr] of a child
// renews only that child. [Meta.LookupChild] answers from whichever of the
// child's own entry and its parent's listing was put last. A TTL of zero or
// less disables the cache, so puts store nothing and every lookup misses.
//
// The cache does not watch the server. Changes made by other clients show up
// only after the affected entries expire, so the TTL is the bound on
// staleness. Local changes must be reported with [Meta.Invalidate] or
// [Meta.InvalidateTree] after the remote call succeeds.
//
// # Concurrency
//
// A [Meta] and a [ReadAhead] are safe for concurrent use. Each has one
// mutex, the two never nest, and no mutex is held while calling the clock.
// The sizeOf function given to [NewMeta] may run with the mutex held, so it
// must be pure and must not call back into the cache.
//
// # Errors
//
// No method returns an error. A lookup returns [Miss] when the cache has no
// fresh entry, and the caller then sends the request to the server. An
// internal state that only a bug can cause panics with a "BUG:" prefix,
// either during eviction or in the invariant checks that tests run.
package cache

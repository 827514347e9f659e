package fs

import (
	"github.com/gosshfs/gosshfs/cache"
	"github.com/gosshfs/gosshfs/remote"
)

type cacheEntry = cache.Entry[remote.Attr]

const (
	cacheMiss     = cache.Miss
	cacheHit      = cache.Hit
	cacheNegative = cache.Negative
	cacheUnlisted = cache.Unlisted
)

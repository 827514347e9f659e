package cache

import (
	"math"
	"sync"
)

// Default read-ahead window bounds in bytes.
const (
	DefaultReadAheadMin = 128 << 10
	DefaultReadAheadMax = 8 << 20
)

// reorderRequests is how many read requests may be in flight on one handle
// and arrive out of order. A read that starts within reorderRequests
// request sizes of the stream's end still belongs to the stream.
//
// NOTE: 8 is an estimate. It was not measured against the number of reads
// the kernel keeps in flight for one FUSE file.
const reorderRequests = 8

// ReadAheadOptions bounds the read-ahead window.
type ReadAheadOptions struct {
	// Min is the first window of a sequential stream in bytes. Zero or less
	// means DefaultReadAheadMin.
	Min int64
	// Max is the largest window in bytes. Zero or less means
	// DefaultReadAheadMax, and a value below Min is raised to Min.
	Max int64
}

// ReadAhead detects sequential reading on one open file handle and sizes the
// read-ahead window. It is safe for concurrent use, because the kernel
// issues reads of one handle concurrently.
//
// A read continues the stream when it starts within a tolerance of the
// stream's end: reorderRequests times the read size, or the current window
// if that is larger. Within that tolerance the read may leave a gap or start
// behind the end, which covers reads that the kernel sends concurrently and
// that arrive out of order. A read outside the tolerance is a random access.
//
// NOTE: One handle holds one stream. Two sequential readers that share a
// handle at distant offsets look like random access and get no read-ahead.
type ReadAhead struct {
	// Immutable after NewReadAhead.
	min, max int64

	mu sync.Mutex
	// Guarded by mu.
	end    int64 // end offset of the furthest read in the current stream
	window int64 // current window, 0 while the access is random
}

// NewReadAhead returns the state of a fresh handle. A fresh handle behaves
// as if a read had just ended at offset 0, so a first read at or near offset
// 0 starts a stream and already gets Min. Programs that open a file and read
// it from the start are mostly sequential readers, such as cat or cp.
func NewReadAhead(o ReadAheadOptions) *ReadAhead {
	r := &ReadAhead{min: o.Min, max: o.Max}
	if r.min <= 0 {
		r.min = DefaultReadAheadMin
	}
	if r.max <= 0 {
		r.max = DefaultReadAheadMax
	}
	r.max = max(r.max, r.min)
	return r
}

// Observe records a read of [off, off+size) and returns how many bytes after
// off+size to fetch ahead. It returns 0 for random access. A read that
// extends the stream gets Min when the stream starts and double the previous
// window after that, up to Max. A read of the stream that ends at or before
// the stream's end leaves the window as it is and returns it. The caller
// fetches only the part of the range that it has not fetched yet, and stops
// at the end of the file.
//
// A read with a negative offset, a size of zero or less, or an end past
// math.MaxInt64 returns 0 and changes nothing.
func (r *ReadAhead) Observe(off, size int64) (window int64) {
	if off < 0 || size <= 0 || off > math.MaxInt64-size {
		return 0
	}
	end := off + size

	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.continuesStreamLocked(off, size) {
		r.end = end
		r.window = 0
		return 0
	}
	if end <= r.end {
		return r.window
	}

	r.end = end
	switch {
	case r.window == 0:
		r.window = r.min
	case r.window > r.max/2:
		r.window = r.max
	default:
		r.window *= 2
	}
	return r.window
}

func (r *ReadAhead) continuesStreamLocked(off, size int64) bool {
	tolerance := int64(math.MaxInt64)
	if size <= math.MaxInt64/reorderRequests {
		tolerance = max(size*reorderRequests, r.window)
	}
	// Both offsets are at least 0, so the difference cannot overflow.
	distance := off - r.end
	if distance < 0 {
		distance = -distance
	}
	return distance <= tolerance
}

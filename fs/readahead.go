package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosshfs/gosshfs/cache"
	"github.com/gosshfs/gosshfs/remote"
)

// chunkSize is the unit of read-ahead, fetched as concurrent requests of
// requestSize bytes, which every OpenSSH server serves whole. Chunks of
// two requests read a 512 MiB file about 20% faster than chunks of one,
// at 10 ms and on loopback: fewer, larger units of work per connection.
const (
	chunkSize   = 256 << 10
	requestSize = 128 << 10
)

// readAheadBudget bounds the bytes of read-ahead chunks held by all handles
// of a mount together.
const readAheadBudget = 48 << 20

// Random reads fetch an aligned block of aroundBlockFast bytes around
// them, or of aroundBlockSlow bytes when the round trip is aroundSlowRTT
// or more, where a round trip costs far more than the bytes. Only files of
// at least aroundMinBlocks blocks are read this way.
const (
	aroundBlockFast = 64 << 10
	aroundBlockSlow = 256 << 10
	aroundBlockMin  = 16 << 10
	aroundSlowRTT   = 2 * time.Millisecond
	aroundMinBlocks = 4
)

// aroundPolicy holds the block size of reads around random reads for one
// mount. A block read that takes longer than 5/4 of the round trip plus
// 1 ms shows that the link's bandwidth, not its latency, sets the cost of
// the extra bytes. After aroundSlowReads such reads in a row the block
// halves, down to aroundBlockMin, so that on a slow link a read far from
// the others costs little more than reading only its own bytes. After
// aroundFastReads fast reads in a row it doubles again, up to its start.
type aroundPolicy struct {
	rtt   time.Duration
	max   int64
	block atomic.Int64

	mu         sync.Mutex // guards slow and fast
	slow, fast int
}

const (
	aroundSlowReads = 4
	aroundFastReads = 32
)

func newAroundPolicy(rtt time.Duration) *aroundPolicy {
	a := &aroundPolicy{rtt: rtt, max: aroundBlockFast}
	if rtt >= aroundSlowRTT {
		a.max = aroundBlockSlow
	}
	a.block.Store(a.max)
	return a
}

// observe records that reading a block of size bytes took elapsed.
func (a *aroundPolicy) observe(size int64, elapsed time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if elapsed > a.rtt*5/4+time.Millisecond {
		a.slow, a.fast = a.slow+1, 0
		if a.slow >= aroundSlowReads && size/2 >= aroundBlockMin {
			a.block.CompareAndSwap(size, size/2)
			a.slow = 0
		}
		return
	}
	a.slow, a.fast = 0, a.fast+1
	if a.fast >= aroundFastReads && size*2 <= a.max {
		a.block.CompareAndSwap(size, size*2)
		a.fast = 0
	}
}

// peerWindow is the read-ahead window from which chunks are fetched over
// several connections, and peerChunks how many consecutive chunks one
// connection fetches.
const (
	peerWindow = 1 << 20
	peerChunks = 4
)

// chunk is one read-ahead request, filled in the background.
type chunk struct {
	done chan struct{} // closed once data and err are set
	data []byte        // shorter than chunkSize only at the end of the file
	err  error
}

// prefetcher keeps a window of concurrent reads in flight ahead of a
// sequential reader of one handle. The window grows as cache.ReadAhead
// decides, up to several MiB, because the kernel itself never reads
// further ahead than 128 KiB on a FUSE file.
type prefetcher struct {
	file   *remote.File
	budget *budget
	detect *cache.ReadAhead

	mu     sync.Mutex // guards chunks and size
	chunks map[int64]*chunk
	// size is the file size the handle expects; no chunk starts at or
	// beyond it.
	size int64
	// poolSize is the number of connections to spread chunks over.
	poolSize int

	// around, when set, takes the bytes read around a random read for
	// the kernel's page cache, and policy sets the block such a read
	// fetches.
	around aroundStore
	policy *aroundPolicy
}

// aroundStore puts bytes read from the server into the kernel's page cache
// of the file, unless the file may have changed since storeGen was taken.
type aroundStore interface {
	storeGen() uint64
	storeAround(gen uint64, off int64, data []byte)
}

func newPrefetcher(file *remote.File, b *budget, size int64, poolSize int) *prefetcher {
	return &prefetcher{
		file:     file,
		budget:   b,
		detect:   cache.NewReadAhead(cache.ReadAheadOptions{Min: 2 * chunkSize, Max: 8 << 20}),
		chunks:   make(map[int64]*chunk),
		size:     size,
		poolSize: poolSize,
	}
}

// read fills dest from offset off, from chunks in flight where it can.
//
// When the read lies within one chunk, it returns the chunk's bytes as data
// instead of copying them into dest; otherwise data is nil.
func (p *prefetcher) read(ctx context.Context, dest []byte, off int64) (data []byte, n int, err error) {
	window := p.detect.Observe(off, int64(len(dest)))
	if window == 0 && !p.covered(off) {
		if n, err, ok := p.readAround(ctx, dest, off); ok {
			return nil, n, err
		}
		n, err := p.file.ReadAt(ctx, p.clip(dest, off), off)
		return nil, n, err
	}
	if window >= peerWindow && p.size > peerThreshold {
		p.file.OpenPeers(ctx, p.poolSize)
	}
	p.schedule(off, off+int64(len(dest))+window)

	if data := p.within(off, int64(len(dest))); data != nil {
		return data, len(data), nil
	}
	for n < len(dest) {
		pos := off + int64(n)
		idx := pos / chunkSize
		c := p.get(idx)
		if c == nil {
			m, err := p.file.ReadAt(ctx, dest[n:], pos)
			return nil, n + m, err
		}
		<-c.done
		if c.err != nil {
			p.drop(idx)
			m, err := p.file.ReadAt(ctx, dest[n:], pos)
			return nil, n + m, err
		}
		inChunk := pos - idx*chunkSize
		if inChunk >= int64(len(c.data)) {
			if len(c.data) == cap(c.data) && len(c.data) < chunkSize {
				// The chunk ended at the size known at open; the file may
				// have grown since.
				m, err := p.file.ReadAt(ctx, dest[n:], pos)
				return nil, n + m, err
			}
			// End of file inside or at the end of this chunk.
			return nil, n, nil
		}
		n += copy(dest[n:], c.data[inChunk:])
		if len(c.data) < chunkSize {
			if end := idx*chunkSize + int64(len(c.data)); n < len(dest) && p.sizeBeyond(end) {
				// The file grew past this chunk after it was fetched.
				m, err := p.file.ReadAt(ctx, dest[n:], off+int64(n))
				return nil, n + m, err
			}
			return nil, n, nil
		}
	}
	p.release(off / chunkSize)
	return nil, n, nil
}

// readAround serves a random read by fetching the whole aligned block
// around it in one request. The kernel gets the bytes it asked for as the
// reply and the rest of the block through its page cache, so later reads
// of the block need no request. A program that reads a large file at
// random (a database, a git pack) thus finds more of it cached the longer
// it runs. ok is false when the read does not fit in one block of a large
// enough file; the caller then reads just dest.
func (p *prefetcher) readAround(ctx context.Context, dest []byte, off int64) (n int, err error, ok bool) {
	if p.around == nil || p.policy == nil {
		return 0, nil, false
	}
	block := p.policy.block.Load()
	p.mu.Lock()
	size := p.size
	p.mu.Unlock()
	start := off - off%block
	end := min(start+block, size)
	if size < aroundMinBlocks*block || off+int64(len(dest)) > end {
		return 0, nil, false
	}

	gen := p.around.storeGen()
	buf := make([]byte, end-start)
	began := time.Now()
	m, err := readSplit(p.file, buf, start)
	if err != nil {
		return 0, err, true
	}
	if end-start == block {
		p.policy.observe(block, time.Since(began))
	}
	buf = buf[:m]
	if off-start >= int64(m) {
		return 0, nil, true
	}
	n = copy(dest, buf[off-start:])
	before, after := buf[:off-start], buf[off-start+int64(n):]
	go func() {
		if len(before) > 0 {
			p.around.storeAround(gen, start, before)
		}
		if len(after) > 0 {
			p.around.storeAround(gen, off+int64(n), after)
		}
	}()
	return n, nil, true
}

// within returns the bytes of [off, off+size) straight from their chunk
// when the range lies within one chunk that holds all of it, or nil.
func (p *prefetcher) within(off, size int64) []byte {
	idx := off / chunkSize
	if (off+size-1)/chunkSize != idx {
		return nil
	}
	c := p.get(idx)
	if c == nil {
		return nil
	}
	<-c.done
	inChunk := off - idx*chunkSize
	if c.err != nil || inChunk+size > int64(len(c.data)) {
		return nil
	}
	p.release(idx)
	return c.data[inChunk : inChunk+size]
}

func (p *prefetcher) covered(off int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.chunks[off/chunkSize]
	return ok
}

func (p *prefetcher) get(idx int64) *chunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.chunks[idx]
}

func (p *prefetcher) drop(idx int64) {
	p.mu.Lock()
	c := p.chunks[idx]
	delete(p.chunks, idx)
	p.mu.Unlock()
	if c != nil {
		p.budget.put(chunkSize)
	}
}

// schedule starts reads for every chunk of [from, to) not yet in flight,
// within the file size and the mount's budget.
func (p *prefetcher) schedule(from, to int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	to = min(to, p.size)
	for idx := from / chunkSize; idx*chunkSize < to; idx++ {
		if _, ok := p.chunks[idx]; ok {
			continue
		}
		if !p.budget.take(chunkSize) {
			return
		}
		c := &chunk{done: make(chan struct{})}
		p.chunks[idx] = c
		go p.fetch(idx, c)
	}
}

func (p *prefetcher) fetch(idx int64, c *chunk) {
	// Asking for exactly the bytes left before the known end of file saves
	// a round trip: a short reply makes pkg/sftp ask again to tell a short
	// read from the end of the file.
	p.mu.Lock()
	length := min(chunkSize, p.size-idx*chunkSize)
	p.mu.Unlock()
	if length <= 0 {
		length = chunkSize
	}
	buf := make([]byte, length)
	file := p.file
	if peers := p.file.Peers(); len(peers) > 1 {
		file = peers[int(idx/peerChunks)%len(peers)]
	}
	n, err := readSplit(file, buf, idx*chunkSize)
	c.data, c.err = buf[:n], err
	close(c.done)
}

// release frees every chunk before idx: a sequential reader is past them.
func (p *prefetcher) release(idx int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.chunks {
		if i < idx-1 {
			select {
			case <-c.done:
				delete(p.chunks, i)
				p.budget.put(chunkSize)
			default:
			}
		}
	}
}

// invalidate drops every chunk, after a write or truncate made them stale,
// and records the file's new size.
func (p *prefetcher) invalidate(size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.chunks {
		select {
		case <-c.done:
		default:
			// A read in flight keeps its buffer; it is released when it ends.
			go func(c *chunk) { <-c.done; p.budget.put(chunkSize) }(c)
			delete(p.chunks, i)
			continue
		}
		delete(p.chunks, i)
		p.budget.put(chunkSize)
	}
	if size >= 0 {
		p.size = size
	}
}

// close releases every chunk.
func (p *prefetcher) close() { p.invalidate(-1) }

// budget is a byte count shared by the prefetchers of one mount.
type budget struct {
	mu   sync.Mutex
	left int64
}

func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left < n {
		return false
	}
	b.left -= n
	return true
}

func (b *budget) put(n int64) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}

// clip shortens dest to end at the known file size when off is before it,
// so that the read is served whole in one round trip.
func (p *prefetcher) clip(dest []byte, off int64) []byte {
	p.mu.Lock()
	size := p.size
	p.mu.Unlock()
	if off < size && off+int64(len(dest)) > size {
		return dest[:size-off]
	}
	return dest
}

// sizeBeyond reports whether the expected file size is past end.
func (p *prefetcher) sizeBeyond(end int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size > end
}

// grow raises the expected file size to end.
func (p *prefetcher) grow(end int64) {
	p.mu.Lock()
	p.size = max(p.size, end)
	p.mu.Unlock()
}

// readSplit reads buf at off as concurrent requests of at most
// requestSize bytes. It returns fewer bytes only at the end of the file.
func readSplit(file *remote.File, buf []byte, off int64) (int, error) {
	if len(buf) <= requestSize {
		return file.ReadAt(context.Background(), buf, off)
	}
	parts := (len(buf) + requestSize - 1) / requestSize
	ns := make([]int, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo := i * requestSize
			hi := min(lo+requestSize, len(buf))
			ns[i], errs[i] = file.ReadAt(context.Background(), buf[lo:hi], off+int64(lo))
		}()
	}
	wg.Wait()
	n := 0
	for i := range parts {
		n += ns[i]
		if errs[i] != nil {
			return n, errs[i]
		}
		if ns[i] < min(requestSize, len(buf)-i*requestSize) {
			return n, nil
		}
	}
	return n, nil
}

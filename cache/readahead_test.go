package cache

import (
	"math"
	"sync"
	"testing"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

type readCall struct {
	off, size int64
	want      int64
}

// blockReads returns reads of 128 KiB blocks in the given order, as the
// kernel sends them, with the expected windows.
func blockReads(blocks []int64, want []int64) []readCall {
	reads := make([]readCall, len(blocks))
	for i, b := range blocks {
		reads[i] = readCall{off: b * 128 * kib, size: 128 * kib, want: want[i]}
	}
	return reads
}

func TestReadAheadObserve(t *testing.T) {
	tests := []struct {
		name  string
		opts  ReadAheadOptions
		reads []readCall
	}{
		{
			name: "pure sequential",
			reads: blockReads(
				[]int64{0, 1, 2, 3, 4, 5, 6, 7, 8},
				[]int64{128 * kib, 256 * kib, 512 * kib, 1 * mib, 2 * mib, 4 * mib, 8 * mib, 8 * mib, 8 * mib},
			),
		},
		{
			name: "two concurrent reads swapped",
			reads: blockReads(
				[]int64{1, 0, 3, 2, 5, 4, 7, 6},
				[]int64{128 * kib, 128 * kib, 256 * kib, 256 * kib, 512 * kib, 512 * kib, 1 * mib, 1 * mib},
			),
		},
		{
			name: "three concurrent reads shuffled",
			reads: blockReads(
				[]int64{0, 2, 1, 3, 5, 4},
				[]int64{128 * kib, 256 * kib, 256 * kib, 512 * kib, 1 * mib, 1 * mib},
			),
		},
		{
			name: "four concurrent reads reversed",
			reads: blockReads(
				[]int64{3, 2, 1, 0, 7, 6, 5, 4},
				[]int64{128 * kib, 128 * kib, 128 * kib, 128 * kib, 256 * kib, 256 * kib, 256 * kib, 256 * kib},
			),
		},
		{
			name: "small gaps",
			reads: []readCall{
				{0, 4 * kib, 128 * kib},
				{8 * kib, 4 * kib, 256 * kib},
				{16 * kib, 4 * kib, 512 * kib},
				{24 * kib, 4 * kib, 1 * mib},
			},
		},
		{
			name: "random",
			reads: []readCall{
				{50 * mib, 4 * kib, 0},
				{3 * mib, 4 * kib, 0},
				{90 * mib, 4 * kib, 0},
				{20 * mib, 4 * kib, 0},
				{70 * mib, 4 * kib, 0},
			},
		},
		{
			name: "random then sequential",
			reads: []readCall{
				{50 * mib, 4 * kib, 0},
				{3 * mib, 4 * kib, 0},
				{3*mib + 4*kib, 4 * kib, 128 * kib},
				{3*mib + 8*kib, 4 * kib, 256 * kib},
				{3*mib + 12*kib, 4 * kib, 512 * kib},
			},
		},
		{
			name: "sequential then far jump",
			reads: []readCall{
				{0, 128 * kib, 128 * kib},
				{128 * kib, 128 * kib, 256 * kib},
				{512 * mib, 128 * kib, 0},
				{512*mib + 128*kib, 128 * kib, 128 * kib},
			},
		},
		{
			name: "jump within the window stays sequential",
			reads: []readCall{
				{0, 128 * kib, 128 * kib},
				{128 * kib, 128 * kib, 256 * kib},
				{256 * kib, 128 * kib, 512 * kib},
				{384 * kib, 128 * kib, 1 * mib},
				{1280 * kib, 128 * kib, 2 * mib},
			},
		},
		{
			name: "backwards",
			reads: blockReads(
				[]int64{800, 799, 798, 797, 796, 795, 794, 793, 792, 791, 790, 789},
				make([]int64, 12),
			),
		},
		{
			name: "custom bounds",
			opts: ReadAheadOptions{Min: 64 * kib, Max: 256 * kib},
			reads: blockReads(
				[]int64{0, 1, 2, 3},
				[]int64{64 * kib, 128 * kib, 256 * kib, 256 * kib},
			),
		},
		{
			name: "max below min",
			opts: ReadAheadOptions{Min: 1 * mib, Max: 256 * kib},
			reads: blockReads(
				[]int64{0, 1, 2},
				[]int64{1 * mib, 1 * mib, 1 * mib},
			),
		},
		{
			name: "invalid reads change nothing",
			reads: []readCall{
				{0, 0, 0},
				{-1, 128 * kib, 0},
				{math.MaxInt64, 1, 0},
				{0, 128 * kib, 128 * kib},
				{128 * kib, -5, 0},
				{128 * kib, 128 * kib, 256 * kib},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReadAhead(tt.opts)
			for i, read := range tt.reads {
				if got := r.Observe(read.off, read.size); got != read.want {
					t.Errorf("read %d Observe(%d, %d) = %d, want %d", i, read.off, read.size, got, read.want)
				}
			}
		})
	}
}

func TestReadAheadWindowNoOverflow(t *testing.T) {
	r := NewReadAhead(ReadAheadOptions{Min: 1, Max: math.MaxInt64})
	var window int64
	for off := range int64(70) {
		window = r.Observe(off, 1)
		if window <= 0 {
			t.Fatalf("Observe(%d, 1) = %d, want a positive window", off, window)
		}
	}
	if window != math.MaxInt64 {
		t.Errorf("window after 70 sequential reads = %d, want %d", window, int64(math.MaxInt64))
	}
}

func TestReadAheadDefaults(t *testing.T) {
	r := NewReadAhead(ReadAheadOptions{Min: -1})
	if r.min != DefaultReadAheadMin {
		t.Errorf("min = %d, want %d", r.min, DefaultReadAheadMin)
	}
	if r.max != DefaultReadAheadMax {
		t.Errorf("max = %d, want %d", r.max, DefaultReadAheadMax)
	}
}

func TestReadAheadConcurrentObserve(t *testing.T) {
	r := NewReadAhead(ReadAheadOptions{})
	const readers = 4
	const blocksPerReader = 500

	// Readers take interleaved blocks of one sequential stream, as the
	// kernel's concurrent read requests do.
	var wg sync.WaitGroup
	for reader := range readers {
		wg.Go(func() {
			for i := range blocksPerReader {
				block := int64(i*readers + reader)
				window := r.Observe(block*128*kib, 128*kib)
				if window < 0 || window > DefaultReadAheadMax {
					t.Errorf("Observe of block %d = %d, want 0 to %d", block, window, DefaultReadAheadMax)
					return
				}
			}
		})
	}
	wg.Wait()

	// Goroutine scheduling may have split the stream, so allow one reset
	// and the seven doublings from Min to Max.
	next := int64(readers*blocksPerReader) * 128 * kib
	var window int64
	for range 9 {
		window = r.Observe(next, 128*kib)
		next += 128 * kib
	}
	if window != DefaultReadAheadMax {
		t.Errorf("window after nine sequential reads = %d, want %d", window, DefaultReadAheadMax)
	}
}

package cache

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// testAttr is the attribute type of the tests, in place of the remote
// package's.
type testAttr struct {
	Size int64
	Mode uint32
}

// fakeClock is a manually advanced clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

const testTTL = 10 * time.Second

func newTestMeta(clock *fakeClock) *Meta[testAttr] {
	return NewMeta[testAttr](Options{TTL: testTTL, Now: clock.Now}, nil)
}

func wantAttr(t *testing.T, c *Meta[testAttr], p string, want testAttr, wantLookup Lookup) {
	t.Helper()
	got, lookup := c.GetAttr(p)
	if lookup != wantLookup {
		t.Fatalf("GetAttr(%q) lookup = %v, want %v", p, lookup, wantLookup)
	}
	if got != want {
		t.Fatalf("GetAttr(%q) = %+v, want %+v", p, got, want)
	}
}

func wantChild(t *testing.T, c *Meta[testAttr], dir, name string, want testAttr, wantLookup Lookup) {
	t.Helper()
	got, lookup := c.LookupChild(dir, name)
	if lookup != wantLookup {
		t.Fatalf("LookupChild(%q, %q) lookup = %v, want %v", dir, name, lookup, wantLookup)
	}
	if got != want {
		t.Fatalf("LookupChild(%q, %q) = %+v, want %+v", dir, name, got, want)
	}
}

func wantNoDir(t *testing.T, c *Meta[testAttr], dir string) {
	t.Helper()
	if entries, ok := c.GetDir(dir); ok {
		t.Fatalf("GetDir(%q) = %v, true; want a miss", dir, entries)
	}
}

func TestGetAttrTTLExpiry(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		want    Lookup
	}{
		{"just stored", 0, Hit},
		{"one nanosecond before TTL", testTTL - time.Nanosecond, Hit},
		{"exactly at TTL", testTTL, Miss},
		{"long after TTL", time.Hour, Miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			c := newTestMeta(clock)
			attr := testAttr{Size: 42}
			c.PutAttr("/f", attr)
			clock.Advance(tt.advance)

			want := attr
			if tt.want == Miss {
				want = testAttr{}
			}
			wantAttr(t, c, "/f", want, tt.want)
			c.checkInvariants()
		})
	}
}

func TestGetAttrExpiredEntryRemoved(t *testing.T) {
	clock := newFakeClock()
	c := newTestMeta(clock)
	c.PutAttr("/f", testAttr{Size: 1})
	clock.Advance(testTTL)

	wantAttr(t, c, "/f", testAttr{}, Miss)
	if s := c.Stats(); s.Entries != 0 {
		t.Errorf("Entries = %d after a stale lookup, want 0", s.Entries)
	}
	if s := c.Stats(); s.Bytes != 0 {
		t.Errorf("Bytes = %d after a stale lookup, want 0", s.Bytes)
	}
	c.checkInvariants()
}

func TestNegativeEntry(t *testing.T) {
	clock := newFakeClock()
	c := newTestMeta(clock)

	c.PutNegative("/missing")
	wantAttr(t, c, "/missing", testAttr{}, Negative)
	wantChild(t, c, "/", "missing", testAttr{}, Negative)

	clock.Advance(testTTL)
	wantAttr(t, c, "/missing", testAttr{}, Miss)

	c.PutNegative("/missing")
	c.PutAttr("/missing", testAttr{Size: 7})
	wantAttr(t, c, "/missing", testAttr{Size: 7}, Hit)

	c.PutNegative("/missing")
	wantAttr(t, c, "/missing", testAttr{}, Negative)
	c.checkInvariants()
}

func TestNegativeEntryDropsOwnListing(t *testing.T) {
	clock := newFakeClock()
	c := newTestMeta(clock)
	c.PutDir("/d", []Entry[testAttr]{{Name: "x"}})

	c.PutNegative("/d")
	wantNoDir(t, c, "/d")
	wantChild(t, c, "/d", "absent", testAttr{}, Miss)
	c.checkInvariants()
}

func TestLookupChildFromListing(t *testing.T) {
	a := testAttr{Size: 1}
	b := testAttr{Size: 2}
	tests := []struct {
		name       string
		dir        string
		lookupDir  string
		lookupName string
		want       testAttr
		wantLookup Lookup
	}{
		{"listed name", "/d", "/d", "a", a, Hit},
		{"second listed name", "/d", "/d", "b", b, Hit},
		{"absent name", "/d", "/d", "zzz", testAttr{}, Negative},
		{"root listed name", "/", "/", "a", a, Hit},
		{"root absent name", "/", "/", "zzz", testAttr{}, Negative},
		{"other directory", "/d", "/e", "a", testAttr{}, Miss},
		{"dot", "/d", "/d", ".", testAttr{}, Miss},
		{"dot dot", "/d", "/d", "..", testAttr{}, Miss},
		{"empty name", "/d", "/d", "", testAttr{}, Miss},
		{"name with slash", "/d", "/d", "a/b", testAttr{}, Miss},
		{"unclean directory", "/d", "/d/", "a", a, Hit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestMeta(newFakeClock())
			c.PutDir(tt.dir, []Entry[testAttr]{{Name: "b", Attr: b}, {Name: "a", Attr: a}})
			wantChild(t, c, tt.lookupDir, tt.lookupName, tt.want, tt.wantLookup)
			c.checkInvariants()
		})
	}
}

func TestLookupChildAbsentNeedsNoChildEntry(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutDir("/d", []Entry[testAttr]{{Name: "a"}})

	wantChild(t, c, "/d", "zzz", testAttr{}, Negative)
	// The Negative result came from the listing alone.
	wantAttr(t, c, "/d/zzz", testAttr{}, Miss)
}

func TestLookupChildUsesListingAfterChildEviction(t *testing.T) {
	c := newTestMeta(newFakeClock())
	a := testAttr{Size: 5}
	c.PutDir("/d", []Entry[testAttr]{{Name: "a", Attr: a}})

	c.mu.Lock()
	c.dropLocked(c.attrs, "/d/a")
	c.mu.Unlock()

	wantAttr(t, c, "/d/a", testAttr{}, Miss)
	wantChild(t, c, "/d", "a", a, Hit)
	c.checkInvariants()
}

func TestLookupChildOwnEntryWithoutListing(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/d/a", testAttr{Size: 3})

	wantChild(t, c, "/d", "a", testAttr{Size: 3}, Hit)
	wantChild(t, c, "/d", "b", testAttr{}, Miss)
}

func TestLookupChildNewerListingWins(t *testing.T) {
	clock := newFakeClock()
	c := newTestMeta(clock)
	c.PutAttr("/d/gone", testAttr{Size: 1})
	clock.Advance(time.Second)
	c.PutDir("/d", []Entry[testAttr]{{Name: "other"}})

	wantChild(t, c, "/d", "gone", testAttr{}, Negative)
	// GetAttr does not consult the listing, as PutDir documents.
	wantAttr(t, c, "/d/gone", testAttr{Size: 1}, Hit)
}

func TestLookupChildListingPutLaterSameInstant(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/d/gone", testAttr{Size: 1})
	c.PutDir("/d", []Entry[testAttr]{{Name: "other"}})

	wantChild(t, c, "/d", "gone", testAttr{}, Negative)
}

func TestLookupChildEntriesExpireSeparately(t *testing.T) {
	clock := newFakeClock()
	c := newTestMeta(clock)
	c.PutDir("/d", []Entry[testAttr]{{Name: "a", Attr: testAttr{Size: 1}}, {Name: "b"}})
	clock.Advance(testTTL / 2)
	c.PutAttr("/d/a", testAttr{Size: 2})
	clock.Advance(testTTL/2 + time.Second)

	wantNoDir(t, c, "/d")
	wantChild(t, c, "/d", "a", testAttr{Size: 2}, Hit)
	wantChild(t, c, "/d", "b", testAttr{}, Miss)
	wantChild(t, c, "/d", "zzz", testAttr{}, Miss)
	c.checkInvariants()
}

func TestGetDirSortedCopy(t *testing.T) {
	c := newTestMeta(newFakeClock())
	input := []Entry[testAttr]{
		{Name: "c", Attr: testAttr{Size: 3}},
		{Name: "a", Attr: testAttr{Size: 1}},
		{Name: "b", Attr: testAttr{Size: 2}},
		{Name: "a", Attr: testAttr{Size: 99}},
		{Name: "."},
		{Name: ".."},
		{Name: ""},
		{Name: "x/y"},
	}
	c.PutDir("/d", input)
	input[0].Attr.Size = 1000

	got, ok := c.GetDir("/d")
	if !ok {
		t.Fatal("GetDir(/d) missed right after PutDir")
	}
	want := []Entry[testAttr]{
		{Name: "a", Attr: testAttr{Size: 1}},
		{Name: "b", Attr: testAttr{Size: 2}},
		{Name: "c", Attr: testAttr{Size: 3}},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("GetDir(/d) = %v, want %v", got, want)
	}

	got[0].Attr.Size = 500
	again, _ := c.GetDir("/d")
	if again[0].Attr.Size != 1 {
		t.Errorf("modifying the returned listing changed the cache: size %d, want 1", again[0].Attr.Size)
	}
	wantAttr(t, c, "/d/a", testAttr{Size: 1}, Hit)
	wantAttr(t, c, "/d/c", testAttr{Size: 3}, Hit)
	c.checkInvariants()
}

func TestGetDirEmptyListing(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutDir("/empty", nil)

	got, ok := c.GetDir("/empty")
	if !ok {
		t.Fatal("GetDir(/empty) missed right after PutDir")
	}
	if len(got) != 0 {
		t.Errorf("GetDir(/empty) = %v, want no entries", got)
	}
	wantChild(t, c, "/empty", "a", testAttr{}, Negative)
}

func TestPutDirChildPaths(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutDir("/", []Entry[testAttr]{{Name: "top", Attr: testAttr{Size: 1}}})
	c.PutDir("/a/b", []Entry[testAttr]{{Name: "leaf", Attr: testAttr{Size: 2}}})

	wantAttr(t, c, "/top", testAttr{Size: 1}, Hit)
	wantAttr(t, c, "/a/b/leaf", testAttr{Size: 2}, Hit)
}

func TestPutDirDropsNegativeDir(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutNegative("/d")
	c.PutDir("/d", nil)

	wantAttr(t, c, "/d", testAttr{}, Miss)
	c.checkInvariants()
}

func TestPutAttrUpdatesListedAttr(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutDir("/d", []Entry[testAttr]{{Name: "a", Attr: testAttr{Size: 1}}})
	c.PutAttr("/d/a", testAttr{Size: 2})

	got, ok := c.GetDir("/d")
	if !ok {
		t.Fatal("GetDir(/d) missed after PutAttr of a listed child")
	}
	if got[0].Attr.Size != 2 {
		t.Errorf("listed size = %d, want 2", got[0].Attr.Size)
	}
	c.checkInvariants()
}

func TestListingDroppedWhenContradicted(t *testing.T) {
	tests := []struct {
		name        string
		change      func(c *Meta[testAttr])
		listingKept bool
	}{
		{"attr of unlisted child", func(c *Meta[testAttr]) { c.PutAttr("/d/new", testAttr{}) }, false},
		{"negative of listed child", func(c *Meta[testAttr]) { c.PutNegative("/d/a") }, false},
		{"negative of unlisted child", func(c *Meta[testAttr]) { c.PutNegative("/d/zzz") }, true},
		{"attr of listed child", func(c *Meta[testAttr]) { c.PutAttr("/d/a", testAttr{Size: 9}) }, true},
		{"attr of grandchild", func(c *Meta[testAttr]) { c.PutAttr("/d/a/x", testAttr{}) }, true},
		{"attr of the directory", func(c *Meta[testAttr]) { c.PutAttr("/d", testAttr{}) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestMeta(newFakeClock())
			c.PutDir("/d", []Entry[testAttr]{{Name: "a"}})
			tt.change(c)

			if _, ok := c.GetDir("/d"); ok != tt.listingKept {
				t.Errorf("listing kept = %v, want %v", ok, tt.listingKept)
			}
			c.checkInvariants()
		})
	}
}

func TestInvalidateDropsParentListing(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/d", testAttr{Size: 100})
	c.PutDir("/d", []Entry[testAttr]{{Name: "a"}, {Name: "b", Attr: testAttr{Size: 2}}})
	c.PutDir("/d/a", []Entry[testAttr]{{Name: "x"}})

	c.Invalidate("/d/a")

	wantAttr(t, c, "/d/a", testAttr{}, Miss)
	wantNoDir(t, c, "/d/a")
	wantNoDir(t, c, "/d")
	wantAttr(t, c, "/d", testAttr{}, Miss)
	wantChild(t, c, "/d", "zzz", testAttr{}, Miss)
	wantAttr(t, c, "/d/b", testAttr{Size: 2}, Hit)
	c.checkInvariants()
}

func TestInvalidateNegativeEntry(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutNegative("/d/new")
	c.Invalidate("/d/new")

	wantAttr(t, c, "/d/new", testAttr{}, Miss)
}

func TestInvalidateRoot(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/", testAttr{Size: 1})
	c.PutDir("/", []Entry[testAttr]{{Name: "a"}})

	c.Invalidate("/")

	wantAttr(t, c, "/", testAttr{}, Miss)
	wantNoDir(t, c, "/")
	wantAttr(t, c, "/a", testAttr{}, Hit)
	c.checkInvariants()
}

func TestInvalidateTree(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/a", testAttr{})
	c.PutDir("/a", []Entry[testAttr]{{Name: "b"}, {Name: "bc"}})
	c.PutDir("/a/b", []Entry[testAttr]{{Name: "c"}})
	c.PutDir("/a/b/c", []Entry[testAttr]{{Name: "d"}})
	c.PutNegative("/a/b/gone")
	c.PutDir("/a/bc", []Entry[testAttr]{{Name: "x"}})
	c.PutAttr("/other", testAttr{})

	c.InvalidateTree("/a/b")

	for _, p := range []string{"/a/b", "/a/b/c", "/a/b/c/d", "/a/b/gone", "/a"} {
		wantAttr(t, c, p, testAttr{}, Miss)
	}
	for _, dir := range []string{"/a", "/a/b", "/a/b/c"} {
		wantNoDir(t, c, dir)
	}
	for _, p := range []string{"/a/bc", "/a/bc/x", "/other"} {
		wantAttr(t, c, p, testAttr{}, Hit)
	}
	if _, ok := c.GetDir("/a/bc"); !ok {
		t.Error("InvalidateTree(/a/b) dropped the listing of sibling /a/bc")
	}
	c.checkInvariants()
}

func TestInvalidateTreeRoot(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutDir("/", []Entry[testAttr]{{Name: "a"}})
	c.PutDir("/a", []Entry[testAttr]{{Name: "b"}})

	c.InvalidateTree("/")

	if s := c.Stats(); s.Entries != 0 || s.Bytes != 0 {
		t.Errorf("after InvalidateTree(/): Entries = %d, Bytes = %d, want 0 and 0", s.Entries, s.Bytes)
	}
	c.checkInvariants()
}

func TestClearKeepsCounters(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/f", testAttr{})
	c.GetAttr("/f")
	c.GetAttr("/g")

	c.Clear()

	s := c.Stats()
	if s.Entries != 0 {
		t.Errorf("Entries = %d after Clear, want 0", s.Entries)
	}
	if s.Bytes != 0 {
		t.Errorf("Bytes = %d after Clear, want 0", s.Bytes)
	}
	if s.Hits != 1 {
		t.Errorf("Hits = %d after Clear, want 1", s.Hits)
	}
	if s.Misses != 1 {
		t.Errorf("Misses = %d after Clear, want 1", s.Misses)
	}
	wantAttr(t, c, "/f", testAttr{}, Miss)
	c.checkInvariants()
}

func TestStatsCounters(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/f", testAttr{})
	c.PutNegative("/n")
	c.PutDir("/d", []Entry[testAttr]{{Name: "x"}})

	c.GetAttr("/f")          // hit
	c.GetAttr("/n")          // negative
	c.GetAttr("/none")       // miss
	c.LookupChild("/d", "x") // hit
	c.LookupChild("/d", "y") // negative
	c.LookupChild("/e", "y") // miss
	c.GetDir("/d")           // hit
	c.GetDir("/e")           // miss

	s := c.Stats()
	if s.Hits != 3 {
		t.Errorf("Hits = %d, want 3", s.Hits)
	}
	if s.Negatives != 2 {
		t.Errorf("Negatives = %d, want 2", s.Negatives)
	}
	if s.Misses != 3 {
		t.Errorf("Misses = %d, want 3", s.Misses)
	}
	// /f, /n, /d/x and the listing of /d.
	if s.Entries != 4 {
		t.Errorf("Entries = %d, want 4", s.Entries)
	}
}

func TestLRUEviction(t *testing.T) {
	entrySize := int64(nodeOverhead + len("/f1") + defaultAttrBytes)
	c := NewMeta[testAttr](Options{TTL: testTTL, MaxBytes: 3 * entrySize, Now: newFakeClock().Now}, nil)
	c.PutAttr("/f1", testAttr{Size: 1})
	c.PutAttr("/f2", testAttr{Size: 2})
	c.PutAttr("/f3", testAttr{Size: 3})
	wantAttr(t, c, "/f1", testAttr{Size: 1}, Hit) // /f2 is now the least recently used

	c.PutAttr("/f4", testAttr{Size: 4})

	wantAttr(t, c, "/f2", testAttr{}, Miss)
	for _, p := range []string{"/f1", "/f3", "/f4"} {
		if _, lookup := c.GetAttr(p); lookup != Hit {
			t.Errorf("GetAttr(%q) = %v after eviction, want Hit", p, lookup)
		}
	}
	s := c.Stats()
	if s.Evictions != 1 {
		t.Errorf("Evictions = %d, want 1", s.Evictions)
	}
	if s.Bytes != 3*entrySize {
		t.Errorf("Bytes = %d, want %d", s.Bytes, 3*entrySize)
	}
	c.checkInvariants()
}

func TestLRUEvictionOfListing(t *testing.T) {
	sizeOf := func(a testAttr) int { return int(a.Size) }
	c := NewMeta[testAttr](Options{TTL: testTTL, MaxBytes: 1900, Now: newFakeClock().Now}, sizeOf)
	c.PutDir("/d", []Entry[testAttr]{{Name: "a", Attr: testAttr{Size: 100}}})
	c.PutAttr("/big", testAttr{Size: 1500})

	wantNoDir(t, c, "/d")
	wantAttr(t, c, "/big", testAttr{Size: 1500}, Hit)
	c.checkInvariants()
}

func TestOversizedEntryNotStored(t *testing.T) {
	sizeOf := func(a testAttr) int { return int(a.Size) }
	c := NewMeta[testAttr](Options{TTL: testTTL, MaxBytes: 1000, Now: newFakeClock().Now}, sizeOf)
	c.PutAttr("/other", testAttr{Size: 1})
	c.PutAttr("/f", testAttr{Size: 1})

	c.PutAttr("/f", testAttr{Size: 5000})

	wantAttr(t, c, "/f", testAttr{}, Miss)
	wantAttr(t, c, "/other", testAttr{Size: 1}, Hit)
	if s := c.Stats(); s.Evictions != 0 {
		t.Errorf("Evictions = %d, want 0 because the oversized entry was never stored", s.Evictions)
	}
	c.checkInvariants()
}

func TestOversizedListingKeepsChildren(t *testing.T) {
	sizeOf := func(a testAttr) int { return int(a.Size) }
	c := NewMeta[testAttr](Options{TTL: testTTL, MaxBytes: 1000, Now: newFakeClock().Now}, sizeOf)
	// Each child entry fits, but the listing of both is larger than MaxBytes.
	c.PutDir("/d", []Entry[testAttr]{{Name: "a", Attr: testAttr{Size: 450}}, {Name: "b", Attr: testAttr{Size: 450}}})

	wantNoDir(t, c, "/d")
	wantAttr(t, c, "/d/b", testAttr{Size: 450}, Hit)
	c.checkInvariants()
}

func TestDefaultMaxBytes(t *testing.T) {
	for _, maxBytes := range []int64{0, -1} {
		c := NewMeta[testAttr](Options{TTL: testTTL, MaxBytes: maxBytes}, nil)
		if c.maxBytes != DefaultMaxBytes {
			t.Errorf("MaxBytes %d: got bound %d, want %d", maxBytes, c.maxBytes, DefaultMaxBytes)
		}
	}
}

func TestNegativeSizeOfCountsZero(t *testing.T) {
	c := NewMeta[testAttr](Options{TTL: testTTL, Now: newFakeClock().Now}, func(testAttr) int { return -500 })
	c.PutAttr("/f", testAttr{})

	if got, want := c.Stats().Bytes, int64(nodeOverhead+len("/f")); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
	c.checkInvariants()
}

func TestTTLDisabled(t *testing.T) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		t.Run(fmt.Sprint(ttl), func(t *testing.T) {
			c := NewMeta[testAttr](Options{TTL: ttl}, nil)
			c.PutAttr("/f", testAttr{Size: 1})
			c.PutNegative("/n")
			c.PutDir("/d", []Entry[testAttr]{{Name: "x"}})
			c.Invalidate("/f")
			c.InvalidateTree("/d")

			wantAttr(t, c, "/f", testAttr{}, Miss)
			wantAttr(t, c, "/n", testAttr{}, Miss)
			wantChild(t, c, "/d", "x", testAttr{}, Miss)
			wantNoDir(t, c, "/d")

			s := c.Stats()
			if s.Entries != 0 {
				t.Errorf("Entries = %d, want 0", s.Entries)
			}
			if s.Misses != 4 {
				t.Errorf("Misses = %d, want 4", s.Misses)
			}
			c.checkInvariants()
		})
	}
}

func TestPathsAreCleaned(t *testing.T) {
	c := newTestMeta(newFakeClock())
	c.PutAttr("/a/", testAttr{Size: 1})
	c.PutAttr("//b/./c", testAttr{Size: 2})

	wantAttr(t, c, "/a", testAttr{Size: 1}, Hit)
	wantAttr(t, c, "/b/c", testAttr{Size: 2}, Hit)
	wantChild(t, c, "/b", "c", testAttr{Size: 2}, Hit)
}

func TestLookupString(t *testing.T) {
	tests := map[Lookup]string{Miss: "Miss", Hit: "Hit", Negative: "Negative", Lookup(7): "Lookup(7)"}
	for l, want := range tests {
		if got := l.String(); got != want {
			t.Errorf("Lookup(%d).String() = %q, want %q", int(l), got, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	// A small bound forces evictions while goroutines race.
	c := NewMeta[testAttr](Options{TTL: time.Minute, MaxBytes: 8 << 10}, nil)
	const goroutines = 8
	const opsPerGoroutine = 3000
	dirs := []string{"/", "/a", "/a/b", "/c"}
	names := []string{"x", "y", "b", "z"}

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range opsPerGoroutine {
				dir := dirs[(g+i)%len(dirs)]
				name := names[(g*7+i)%len(names)]
				p := childPath(dir, name)
				switch (g + i) % 9 {
				case 0:
					c.PutAttr(p, testAttr{Size: int64(i)})
				case 1:
					c.PutNegative(p)
				case 2:
					c.PutDir(dir, []Entry[testAttr]{{Name: name}, {Name: "w"}})
				case 3:
					c.GetAttr(p)
				case 4:
					c.LookupChild(dir, name)
				case 5:
					c.GetDir(dir)
				case 6:
					c.Invalidate(p)
				case 7:
					if i%50 == 0 {
						c.InvalidateTree(dir)
					}
				case 8:
					c.Stats()
				}
			}
		})
	}
	wg.Wait()
	c.checkInvariants()
}

func TestPutMadeDir(t *testing.T) {
	clock := time.Unix(1000, 0)
	c := NewMeta[int](Options{TTL: 10 * time.Second, Now: func() time.Time { return clock }}, nil)

	c.PutMadeDir("/d")
	if _, got := c.LookupChild("/d", "x"); got != Unlisted {
		t.Errorf("name never created in a made directory: got %v, want Unlisted", got)
	}
	if _, ok := c.GetDir("/d"); ok {
		t.Error("GetDir served a listing the server never sent")
	}
	c.AddChild("/d/x", 1)
	if a, got := c.LookupChild("/d", "x"); got != Hit || a != 1 {
		t.Errorf("name created in a made directory: got %v %d, want Hit 1", got, a)
	}
	c.RemoveTree("/d/x")
	if _, got := c.LookupChild("/d", "x"); got == Hit {
		t.Errorf("removed name: got %v", got)
	}

	// A listing from the server replaces the made one.
	c.PutDir("/d", []Entry[int]{{Name: "y", Attr: 2}})
	if _, got := c.LookupChild("/d", "x"); got != Negative {
		t.Errorf("name missing from the server's listing: got %v, want Negative", got)
	}
	if _, ok := c.GetDir("/d"); !ok {
		t.Error("GetDir missed the server's listing")
	}

	c.PutMadeDir("/e")
	clock = clock.Add(11 * time.Second)
	if _, got := c.LookupChild("/e", "x"); got != Miss {
		t.Errorf("made directory after the TTL: got %v, want Miss", got)
	}
}

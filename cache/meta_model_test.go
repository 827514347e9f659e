package cache

import (
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
	"time"
)

// metaModel is a reference implementation of Meta's documented behavior
// without a size bound: plain maps, freshness checked on every read.
type metaModel struct {
	ttl   time.Duration
	seq   uint64
	attrs map[string]modelAttr
	dirs  map[string]modelListing
}

type modelAttr struct {
	attr     testAttr
	negative bool
	stored   time.Time
	seq      uint64
}

type modelListing struct {
	entries []Entry[testAttr]
	stored  time.Time
	seq     uint64
}

func newMetaModel(ttl time.Duration) *metaModel {
	return &metaModel{ttl: ttl, attrs: map[string]modelAttr{}, dirs: map[string]modelListing{}}
}

func (m *metaModel) fresh(stored, now time.Time) bool { return now.Before(stored.Add(m.ttl)) }

func (m *metaModel) putAttr(p string, a testAttr, now time.Time) {
	m.seq++
	m.attrs[p] = modelAttr{attr: a, stored: now, seq: m.seq}
	m.reconcile(p, &a)
}

func (m *metaModel) putNegative(p string, now time.Time) {
	m.seq++
	m.attrs[p] = modelAttr{negative: true, stored: now, seq: m.seq}
	delete(m.dirs, p)
	m.reconcile(p, nil)
}

func (m *metaModel) reconcile(p string, a *testAttr) {
	if p == "/" {
		return
	}
	dir, name := path.Dir(p), path.Base(p)
	l, ok := m.dirs[dir]
	if !ok {
		return
	}
	i := slices.IndexFunc(l.entries, func(e Entry[testAttr]) bool { return e.Name == name })
	switch {
	case (i >= 0) != (a != nil):
		delete(m.dirs, dir)
	case a != nil:
		l.entries[i].Attr = *a
	}
}

func (m *metaModel) putDir(dir string, entries []Entry[testAttr], now time.Time) {
	m.seq++
	if a, ok := m.attrs[dir]; ok && a.negative {
		delete(m.attrs, dir)
	}
	var listed []Entry[testAttr]
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		listed = append(listed, e)
		m.attrs[childPath(dir, e.Name)] = modelAttr{attr: e.Attr, stored: now, seq: m.seq}
	}
	slices.SortFunc(listed, func(a, b Entry[testAttr]) int { return strings.Compare(a.Name, b.Name) })
	m.dirs[dir] = modelListing{entries: listed, stored: now, seq: m.seq}
}

func (m *metaModel) invalidate(p string) {
	delete(m.attrs, p)
	delete(m.dirs, p)
	if p != "/" {
		delete(m.attrs, path.Dir(p))
		delete(m.dirs, path.Dir(p))
	}
}

func (m *metaModel) invalidateTree(p string) {
	under := func(key string) bool {
		return p == "/" || key == p || strings.HasPrefix(key, p+"/")
	}
	for key := range m.attrs {
		if under(key) {
			delete(m.attrs, key)
		}
	}
	for key := range m.dirs {
		if under(key) {
			delete(m.dirs, key)
		}
	}
	if p != "/" {
		delete(m.attrs, path.Dir(p))
		delete(m.dirs, path.Dir(p))
	}
}

func (m *metaModel) getAttr(p string, now time.Time) (testAttr, Lookup) {
	a, ok := m.attrs[p]
	switch {
	case !ok || !m.fresh(a.stored, now):
		return testAttr{}, Miss
	case a.negative:
		return testAttr{}, Negative
	default:
		return a.attr, Hit
	}
}

func (m *metaModel) getDir(dir string, now time.Time) ([]Entry[testAttr], bool) {
	l, ok := m.dirs[dir]
	if !ok || !m.fresh(l.stored, now) {
		return nil, false
	}
	return l.entries, true
}

func (m *metaModel) lookupChild(dir, name string, now time.Time) (testAttr, Lookup) {
	p := childPath(dir, name)
	a, childOK := m.attrs[p]
	childOK = childOK && m.fresh(a.stored, now)
	l, listingOK := m.dirs[dir]
	listingOK = listingOK && m.fresh(l.stored, now)
	if !listingOK || (childOK && l.seq <= a.seq) {
		return m.getAttr(p, now)
	}
	for _, e := range l.entries {
		if e.Name == name {
			return e.Attr, Hit
		}
	}
	return testAttr{}, Negative
}

// TestMetaMatchesModel runs seeded random operations against Meta and the
// model and calls checkInvariants after each one. With a large bound the
// results must be equal. With a small bound Meta may forget entries, so a
// Miss is allowed, but any other result must equal the model's.
func TestMetaMatchesModel(t *testing.T) {
	for _, tt := range []struct {
		name     string
		maxBytes int64
		exact    bool
	}{
		{"unbounded", 1 << 30, true},
		{"evicting", 3000, false},
	} {
		for seed := range uint64(20) {
			t.Run(fmt.Sprintf("%s/seed%d", tt.name, seed), func(t *testing.T) {
				runModelComparison(t, seed, tt.maxBytes, tt.exact)
			})
		}
	}
}

func runModelComparison(t *testing.T, seed uint64, maxBytes int64, exact bool) {
	const operations = 2000
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	clock := newFakeClock()
	c := NewMeta[testAttr](Options{TTL: testTTL, MaxBytes: maxBytes, Now: clock.Now}, func(a testAttr) int { return int(a.Size % 64) })
	model := newMetaModel(testTTL)

	dirs := []string{"/", "/a", "/a/b", "/a/bc", "/c"}
	names := []string{"a", "b", "bc", "c", "x"}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	randomPath := func() string { return childPath(pick(dirs), pick(names)) }

	var history []string
	for range operations {
		now := clock.Now()
		var op, mismatch string
		switch rng.IntN(11) {
		case 0:
			d := time.Duration(rng.IntN(4000)) * time.Millisecond
			op = fmt.Sprintf("advance clock by %v", d)
			clock.Advance(d)
		case 1, 2:
			p, a := randomPath(), testAttr{Size: rng.Int64N(1000)}
			op = fmt.Sprintf("PutAttr(%q, %v)", p, a)
			c.PutAttr(p, a)
			model.putAttr(p, a, now)
		case 3:
			p := randomPath()
			op = fmt.Sprintf("PutNegative(%q)", p)
			c.PutNegative(p)
			model.putNegative(p, now)
		case 4:
			dir := pick(dirs)
			var entries []Entry[testAttr]
			for range rng.IntN(4) {
				entries = append(entries, Entry[testAttr]{Name: pick(names), Attr: testAttr{Size: rng.Int64N(1000)}})
			}
			op = fmt.Sprintf("PutDir(%q, %v)", dir, entries)
			c.PutDir(dir, entries)
			model.putDir(dir, entries, now)
		case 5:
			p := randomPath()
			if rng.IntN(4) == 0 {
				p = pick(dirs)
			}
			op = fmt.Sprintf("Invalidate(%q)", p)
			c.Invalidate(p)
			model.invalidate(p)
		case 6:
			p := pick(dirs)
			if rng.IntN(10) == 0 {
				p = "/"
			}
			op = fmt.Sprintf("InvalidateTree(%q)", p)
			c.InvalidateTree(p)
			model.invalidateTree(p)
		case 7:
			p := randomPath()
			got, gotLookup := c.GetAttr(p)
			want, wantLookup := model.getAttr(p, now)
			op = fmt.Sprintf("GetAttr(%q) = %v, %v", p, got, gotLookup)
			mismatch = compareLookup(got, gotLookup, want, wantLookup, exact)
		case 8, 9:
			dir, name := pick(dirs), pick(names)
			got, gotLookup := c.LookupChild(dir, name)
			want, wantLookup := model.lookupChild(dir, name, now)
			op = fmt.Sprintf("LookupChild(%q, %q) = %v, %v", dir, name, got, gotLookup)
			mismatch = compareLookup(got, gotLookup, want, wantLookup, exact)
		case 10:
			dir := pick(dirs)
			got, gotOK := c.GetDir(dir)
			want, wantOK := model.getDir(dir, now)
			op = fmt.Sprintf("GetDir(%q) = %v, %v", dir, got, gotOK)
			if (exact || gotOK) && (gotOK != wantOK || !slices.Equal(got, want)) {
				mismatch = fmt.Sprintf("model has %v, %v", want, wantOK)
			}
		}

		history = append(history, op)
		if mismatch != "" {
			t.Fatalf("operation %d: %s; %s\nrecent operations:\n%s",
				len(history)-1, op, mismatch, strings.Join(history[max(0, len(history)-15):], "\n"))
		}
		c.checkInvariants()
	}
}

// compareLookup returns a description of the model's result when it differs
// from the cache's, and "" when they agree.
func compareLookup(got testAttr, gotLookup Lookup, want testAttr, wantLookup Lookup, exact bool) string {
	if !exact && gotLookup == Miss {
		return ""
	}
	if gotLookup != wantLookup || got != want {
		return fmt.Sprintf("model has %v, %v", want, wantLookup)
	}
	return ""
}

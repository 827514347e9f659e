package cache

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkGetAttrHit(b *testing.B) {
	c := NewMeta[testAttr](Options{TTL: time.Hour}, nil)
	paths := make([]string, 1000)
	for i := range paths {
		paths[i] = fmt.Sprintf("/home/user/project/file%04d.go", i)
		c.PutAttr(paths[i], testAttr{Size: int64(i)})
	}

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, lookup := c.GetAttr(paths[i%len(paths)]); lookup != Hit {
			b.Fatalf("GetAttr(%q) = %v, want Hit", paths[i%len(paths)], lookup)
		}
		i++
	}
}

// BenchmarkLookupChildFromListing looks up names in a directory of 1000
// entries. "listed" names also have their own entries from PutDir, and
// "absent" names get Negative from a binary search of the listing.
func BenchmarkLookupChildFromListing(b *testing.B) {
	c := NewMeta[testAttr](Options{TTL: time.Hour}, nil)
	entries := make([]Entry[testAttr], 1000)
	listed := make([]string, len(entries))
	absent := make([]string, len(entries))
	for i := range entries {
		listed[i] = fmt.Sprintf("file%04d.go", i)
		absent[i] = fmt.Sprintf("file%04d.go.swp", i)
		entries[i] = Entry[testAttr]{Name: listed[i], Attr: testAttr{Size: int64(i)}}
	}
	const dir = "/home/user/project"
	c.PutDir(dir, entries)

	for _, bench := range []struct {
		name  string
		names []string
		want  Lookup
	}{
		{"listed", listed, Hit},
		{"absent", absent, Negative},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				name := bench.names[i%len(bench.names)]
				if _, lookup := c.LookupChild(dir, name); lookup != bench.want {
					b.Fatalf("LookupChild(%q, %q) = %v, want %v", dir, name, lookup, bench.want)
				}
				i++
			}
		})
	}
}

func BenchmarkPutDir1000(b *testing.B) {
	c := NewMeta[testAttr](Options{TTL: time.Hour}, nil)
	entries := make([]Entry[testAttr], 1000)
	for i := range entries {
		entries[i] = Entry[testAttr]{Name: fmt.Sprintf("file%04d.go", i), Attr: testAttr{Size: int64(i)}}
	}

	b.ReportAllocs()
	for b.Loop() {
		c.PutDir("/home/user/project", entries)
	}
}

func BenchmarkReadAheadObserve(b *testing.B) {
	r := NewReadAhead(ReadAheadOptions{})

	b.ReportAllocs()
	var off int64
	for b.Loop() {
		r.Observe(off, 128*kib)
		off += 128 * kib
	}
}

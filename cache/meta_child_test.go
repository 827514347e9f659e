package cache

import (
	"testing"
	"time"
)

func TestAddChildKeepsListing(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewMeta[int](Options{TTL: time.Minute, Now: func() time.Time { return now }}, nil)
	c.PutDir("/d", []Entry[int]{{Name: "a", Attr: 1}})

	c.AddChild("/d/b", 2)

	got, state := c.LookupChild("/d", "b")
	if state != Hit || got != 2 {
		t.Errorf("LookupChild(b) = %d, %v; want 2, Hit", got, state)
	}
	entries, ok := c.GetDir("/d")
	if !ok {
		t.Fatal("listing dropped by AddChild")
	}
	if len(entries) != 2 || entries[0].Name != "a" || entries[1].Name != "b" {
		t.Errorf("listing = %v, want a and b", entries)
	}
	c.checkInvariants()
}

func TestRemoveTreeKeepsListing(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewMeta[int](Options{TTL: time.Minute, Now: func() time.Time { return now }}, nil)
	c.PutDir("/d", []Entry[int]{{Name: "a", Attr: 1}, {Name: "sub", Attr: 2}})
	c.PutDir("/d/sub", []Entry[int]{{Name: "x", Attr: 3}})

	c.RemoveTree("/d/sub")

	if _, state := c.LookupChild("/d", "sub"); state != Negative {
		t.Errorf("LookupChild(sub) state = %v, want Negative", state)
	}
	if _, state := c.GetAttr("/d/sub/x"); state != Miss {
		t.Errorf("GetAttr(sub/x) state = %v, want Miss", state)
	}
	entries, ok := c.GetDir("/d")
	if !ok || len(entries) != 1 || entries[0].Name != "a" {
		t.Errorf("listing = %v (%v), want only a", entries, ok)
	}
	c.checkInvariants()
}

func TestDropAttrMissesListedName(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewMeta[int](Options{TTL: time.Minute, Now: func() time.Time { return now }}, nil)
	c.PutDir("/d", []Entry[int]{{Name: "a", Attr: 1}})

	c.DropAttr("/d/a")

	if _, state := c.LookupChild("/d", "a"); state != Miss {
		t.Errorf("LookupChild(a) after DropAttr = %v, want Miss", state)
	}
	if _, ok := c.GetDir("/d"); !ok {
		t.Error("DropAttr dropped the listing")
	}
	c.PutAttr("/d/a", 5)
	if got, state := c.LookupChild("/d", "a"); state != Hit || got != 5 {
		t.Errorf("LookupChild(a) after PutAttr = %d, %v; want 5, Hit", got, state)
	}
	c.checkInvariants()
}

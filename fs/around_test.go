package fs

import (
	"testing"
	"time"
)

func TestAroundPolicyStartsByRoundTrip(t *testing.T) {
	if got := newAroundPolicy(100 * time.Microsecond).block.Load(); got != aroundBlockFast {
		t.Errorf("block on a fast link = %d, want %d", got, aroundBlockFast)
	}
	if got := newAroundPolicy(10 * time.Millisecond).block.Load(); got != aroundBlockSlow {
		t.Errorf("block on a 10 ms link = %d, want %d", got, aroundBlockSlow)
	}
}

// TestAroundPolicyFollowsBandwidth feeds block reads that take much longer
// than a round trip, as on a link of little bandwidth, and then fast ones.
func TestAroundPolicyFollowsBandwidth(t *testing.T) {
	rtt := 10 * time.Millisecond
	a := newAroundPolicy(rtt)
	slow := 3 * rtt

	for i := 0; i < aroundSlowReads-1; i++ {
		a.observe(a.block.Load(), slow)
	}
	if got := a.block.Load(); got != aroundBlockSlow {
		t.Fatalf("block after %d slow reads = %d, want it unchanged at %d", aroundSlowReads-1, got, aroundBlockSlow)
	}
	a.observe(a.block.Load(), slow)
	if got := a.block.Load(); got != aroundBlockSlow/2 {
		t.Fatalf("block after %d slow reads = %d, want %d", aroundSlowReads, got, aroundBlockSlow/2)
	}

	for i := 0; i < 100*aroundSlowReads; i++ {
		a.observe(a.block.Load(), slow)
	}
	if got := a.block.Load(); got != aroundBlockMin {
		t.Fatalf("block after many slow reads = %d, want the minimum %d", got, aroundBlockMin)
	}

	for i := 0; i < 100*aroundFastReads; i++ {
		a.observe(a.block.Load(), rtt)
	}
	if got := a.block.Load(); got != aroundBlockSlow {
		t.Fatalf("block after many fast reads = %d, want its start %d", got, aroundBlockSlow)
	}
}

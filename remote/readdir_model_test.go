package remote

import (
	"math/rand/v2"
	"testing"
)

// fakeHandleServer grants handles as OpenSSH's sftp-server does: the slot
// freed last, else a new one.
type fakeHandleServer struct {
	free  []uint32
	slots uint32
	live  map[uint32]bool
}

func (s *fakeHandleServer) open() uint32 {
	var slot uint32
	if n := len(s.free); n > 0 {
		slot = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		slot = s.slots
		s.slots++
	}
	s.live[slot] = true
	return slot
}

func (s *fakeHandleServer) close(slot uint32) {
	delete(s.live, slot)
	s.free = append(s.free, slot)
}

// TestHandleModelNeverReadsALiveHandle replays random interleavings of
// OPENDIRs, some failing, replies that arrive late and CLOSEs. An early
// READDIR must only ever reach the handle just granted or a free slot, and
// the model must predict right again once the session is idle.
func TestHandleModelNeverReadsALiveHandle(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		srv := &fakeHandleServer{live: map[uint32]bool{}}
		m := &handleModel{enabled: true}
		type reply struct {
			pred   uint32
			handle string
			ok     bool
		}
		var replies []reply
		var open []string
		hits, speculated := 0, 0
		for step := 0; step < 400; step++ {
			switch op := rng.IntN(3); {
			case op == 0:
				pred, spec := m.alloc()
				if rng.IntN(8) == 0 {
					// The server refuses the OPENDIR: nothing is granted.
					if spec && srv.live[pred] {
						t.Fatalf("seed %d step %d: early READDIR to live handle %d", seed, step, pred)
					}
					replies = append(replies, reply{pred: pred})
					continue
				}
				got := srv.open()
				if spec {
					speculated++
					if got == pred {
						hits++
					} else if srv.live[pred] {
						t.Fatalf("seed %d step %d: early READDIR to live handle %d, granted %d", seed, step, pred, got)
					}
				}
				replies = append(replies, reply{pred: pred, handle: handleString(got), ok: true})
			case op == 1 && len(replies) > 0:
				i := rng.IntN(len(replies))
				r := replies[i]
				replies = append(replies[:i], replies[i+1:]...)
				m.opened(r.pred, r.handle, r.ok)
				if r.ok {
					open = append(open, r.handle)
				}
			case op == 2 && len(open) > 0:
				i := rng.IntN(len(open))
				h := open[i]
				open = append(open[:i], open[i+1:]...)
				srv.close(uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3]))
				m.closed(h)
			}
		}
		// Drain: every reply arrives and every handle closes; then the
		// model must be right again.
		for _, r := range replies {
			m.opened(r.pred, r.handle, r.ok)
			if r.ok {
				open = append(open, r.handle)
			}
		}
		for _, h := range open {
			srv.close(uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3]))
			m.closed(h)
		}
		pred, spec := m.alloc()
		if !spec || pred != srv.open() {
			t.Errorf("seed %d: after the session went idle the model predicts %d (speculate %v), want the server's next slot", seed, pred, spec)
		}
		if speculated > 10 && hits == 0 {
			t.Errorf("seed %d: no prediction was right in %d tries", seed, speculated)
		}
	}
}

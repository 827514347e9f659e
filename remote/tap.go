package remote

import (
	"encoding/binary"
	"io"
	"sync"
	"unsafe"
)

// SFTP packet types the wire tap recognises.
const (
	fxpOpen  = 3
	fxpWrite = 6
)

// wireTap sits between pkg/sftp and the SSH channel of one SFTP session and
// reports when chosen requests have been handed to the channel. The channel
// delivers requests in the order they were written, and OpenSSH's
// sftp-server handles them one at a time in that order, so a request
// written after another on the same session is applied after it. That
// lets a request be sent without waiting for the reply of one it depends
// on: a stat right behind the open that creates the file, or a time change
// right behind the writes it must follow.
//
// pkg/sftp writes each packet under its own lock, as one header followed
// by the data of a WRITE, so the tap parses packet boundaries from the
// length fields alone.
type wireTap struct {
	w   io.WriteCloser
	reg *sendRegistry
	cn  *conn // set once the conn exists, before any tracked request

	// left is the number of bytes of the current packet still to come;
	// it is touched only by Write, which pkg/sftp serialises.
	left int
	// heldHeader is the header of a WRITE, kept back to go out with the
	// start of its data.
	heldHeader []byte
}

// mergeMax is the largest channel write that joins a WRITE's header with
// the start of its data: the payload of one SSH packet on an OpenSSH
// session channel.
const mergeMax = 32 << 10

// Write passes b to the channel. The header of a packet whose data follows
// in the next Write is held back and sent with that data, so that a WRITE
// request of up to mergeMax bytes takes one SSH packet instead of two.
func (t *wireTap) Write(b []byte) (int, error) {
	if len(t.heldHeader) > 0 {
		return t.writeHeld(b)
	}
	if t.left <= 0 && len(b) >= 9 && 4+int(binary.BigEndian.Uint32(b)) > len(b) && len(b) < mergeMax {
		t.heldHeader = append(t.heldHeader[:0], b...)
		return len(b), nil
	}
	n, err := t.w.Write(b)
	t.observe(b[:n])
	return n, err
}

// writeHeld writes the held header together with the start of b, its
// data, and then the rest of b.
func (t *wireTap) writeHeld(b []byte) (int, error) {
	header := t.heldHeader
	k := min(len(b), mergeMax-len(header))
	out := append(header, b[:k]...)
	t.heldHeader = out[:0]
	n, err := t.w.Write(out)
	if n >= len(header) {
		t.observe(header)
		t.observe(b[:n-len(header)])
	}
	if err != nil || k == len(b) {
		return max(n-len(header), 0), err
	}
	m, err := t.w.Write(b[k:])
	t.observe(b[k : k+m])
	return k + m, err
}

func (t *wireTap) Close() error { return t.w.Close() }

func (t *wireTap) observe(b []byte) {
	if len(b) == 0 {
		return
	}
	if t.left <= 0 {
		if len(b) < 9 {
			// Not a packet start pkg/sftp writes; resynchronise on the
			// next write.
			t.left = 0
			return
		}
		t.left = 4 + int(binary.BigEndian.Uint32(b))
		if b[4] == fxpOpen {
			if p, ok := sftpString(b[9:]); ok {
				t.reg.opened(p, t.cn)
			}
		}
		t.left -= len(b)
		return
	}
	// The rest of a packet: the data of a WRITE.
	t.reg.wrote(b, t.cn)
	t.left -= len(b)
}

// sftpString decodes the SFTP string at the start of b.
func sftpString(b []byte) (string, bool) {
	if len(b) < 4 {
		return "", false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return "", false
	}
	return string(b[4 : 4+n]), true
}

// sendRegistry holds the requests whose transmission someone waits for,
// for all connections of a Client.
type sendRegistry struct {
	mu     sync.Mutex // guards the fields below
	writes []*pendingWrite
	opens  map[string][]*pendingOpen
}

// pendingWrite is the data of one queued write, tracked until every byte
// of it has been handed to a channel.
type pendingWrite struct {
	lo, hi uintptr // address range of the data
	left   int
	sent   chan struct{} // closed once left reaches 0
	cn     *conn         // the connection the data went to, once sent
}

// pendingOpen is an OPEN request of a path that a caller waits to see sent.
type pendingOpen struct {
	sent chan struct{}
	cn   *conn
}

func dataRange(b []byte) (uintptr, uintptr) {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return lo, lo + uintptr(len(b))
}

// trackWrite starts tracking data, which must not be empty, until it is
// sent; untrack ends it.
func (r *sendRegistry) trackWrite(data []byte) *pendingWrite {
	lo, hi := dataRange(data)
	pw := &pendingWrite{lo: lo, hi: hi, left: len(data), sent: make(chan struct{})}
	r.mu.Lock()
	r.writes = append(r.writes, pw)
	r.mu.Unlock()
	return pw
}

func (r *sendRegistry) untrack(pw *pendingWrite) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, w := range r.writes {
		if w == pw {
			r.writes[i] = r.writes[len(r.writes)-1]
			r.writes[len(r.writes)-1] = nil
			r.writes = r.writes[:len(r.writes)-1]
			return
		}
	}
}

// wrote records that b, the data of a WRITE, went to cn.
func (r *sendRegistry) wrote(b []byte, cn *conn) {
	lo, hi := dataRange(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.writes {
		if lo >= w.lo && hi <= w.hi && w.left > 0 {
			w.cn = cn
			w.left -= len(b)
			if w.left <= 0 {
				close(w.sent)
			}
			return
		}
	}
}

// expectOpen registers a wait for an OPEN of p; call dropOpen when done.
func (r *sendRegistry) expectOpen(p string) *pendingOpen {
	po := &pendingOpen{sent: make(chan struct{})}
	r.mu.Lock()
	if r.opens == nil {
		r.opens = make(map[string][]*pendingOpen)
	}
	r.opens[p] = append(r.opens[p], po)
	r.mu.Unlock()
	return po
}

func (r *sendRegistry) dropOpen(p string, po *pendingOpen) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.opens[p]
	for i, o := range list {
		if o == po {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.opens, p)
	} else {
		r.opens[p] = list
	}
}

// opened records that an OPEN of p went to cn: the first waiter for p
// learns it.
func (r *sendRegistry) opened(p string, cn *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.opens[p]
	if len(list) == 0 {
		return
	}
	po := list[0]
	po.cn = cn
	close(po.sent)
	if len(list) == 1 {
		delete(r.opens, p)
	} else {
		r.opens[p] = list[1:]
	}
}

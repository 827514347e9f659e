package remote

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// SFTP version 3 packet types of a directory listing.
const (
	fxpClose   = 4
	fxpOpendir = 11
	fxpReaddir = 12
	fxpHandle  = 102
	fxpName    = 104

	attrFlagExtended = 0x80000000
)

// readDir lists a directory over the extension channel in fewer round
// trips than pkg/sftp's ReadDir. READDIR requests go out two at a time, so
// a directory that fits in one reply costs OPENDIR plus one round trip.
// When the handle the server will return can be predicted (see
// handleModel), the first two READDIRs go out right behind the OPENDIR and
// such a directory costs one round trip. CLOSE is sent without waiting
// for its reply.
func (e *extChannel) readDir(p string) ([]DirEntry, error) {
	e.mu.Lock()
	pred, speculate := e.handles.alloc()
	var early [2]<-chan extReply
	opened, err := e.sendLocked(fxpOpendir, appendString(nil, p))
	if err == nil && speculate {
		for i := range early {
			if early[i], err = e.sendLocked(fxpReaddir, appendString(nil, handleString(pred))); err != nil {
				break
			}
		}
	}
	e.mu.Unlock()
	if err != nil {
		e.fail(err)
		return nil, errExtClosed
	}
	handle, err := e.awaitHandle(opened, pred)
	if err != nil {
		return nil, err
	}
	defer e.closeHandle(handle)

	var out []DirEntry
	if speculate {
		if handle == handleString(pred) {
			var done bool
			if out, done, err = e.collectNames(nil, early[:]); err != nil || done {
				return out, err
			}
		} else {
			// The READDIRs went to a handle no directory had: discard
			// their errors and list the directory the usual way.
			for _, ch := range early {
				<-ch
			}
		}
	}
	for {
		first, err := e.send(fxpReaddir, appendString(nil, handle))
		if err != nil {
			return nil, err
		}
		second, err := e.send(fxpReaddir, appendString(nil, handle))
		if err != nil {
			return nil, err
		}
		var done bool
		if out, done, err = e.collectNames(out, []<-chan extReply{first, second}); err != nil || done {
			return out, err
		}
	}
}

// awaitHandle waits for the reply to an OPEN or OPENDIR whose slot the
// handle model predicted as pred, records the outcome in the model and
// returns the handle granted.
func (e *extChannel) awaitHandle(opened <-chan extReply, pred uint32) (string, error) {
	rep := <-opened
	var handle string
	if rep.err == nil && rep.typ == fxpHandle {
		var ok bool
		if handle, _, ok = takeString(rep.data); !ok {
			rep.err = errors.New("remote: malformed HANDLE reply")
		}
	}
	e.mu.Lock()
	e.handles.opened(pred, handle, rep.err == nil && rep.typ == fxpHandle)
	e.mu.Unlock()
	if rep.err != nil {
		return "", rep.err
	}
	if rep.typ != fxpHandle {
		return "", statusError(rep)
	}
	return handle, nil
}

// collectNames appends the entries of the READDIR replies on chans to out,
// and reports whether one of them ended the listing.
func (e *extChannel) collectNames(out []DirEntry, chans []<-chan extReply) ([]DirEntry, bool, error) {
	done := false
	var firstErr error
	for _, ch := range chans {
		rep := <-ch
		if done || firstErr != nil {
			continue
		}
		if rep.err != nil {
			firstErr = rep.err
			continue
		}
		if rep.typ != fxpName {
			if err := statusError(rep); err != nil && statusCode(err) != fxEOF {
				firstErr = err
				continue
			}
			done = true
			continue
		}
		var err error
		if out, err = appendNames(out, rep.data); err != nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return nil, false, firstErr
	}
	return out, done, nil
}

// closeHandle sends CLOSE and discards the reply.
func (e *extChannel) closeHandle(handle string) {
	e.mu.Lock()
	ch, err := e.sendLocked(fxpClose, appendString(nil, handle))
	if err == nil {
		e.handles.closed(handle)
	}
	e.mu.Unlock()
	if err != nil {
		e.fail(err)
		return
	}
	go func() { <-ch }()
}

// handleModel predicts the handles OpenSSH's sftp-server gives OPENDIR and
// OPEN on one session. The server keeps its free handle slots on a stack:
// a new handle is the slot freed last, or a new slot after the highest.
// Requests of one session are applied in the order they were sent, so
// replaying the opens and CLOSEs in send order predicts each handle. A
// READDIR sent before the OPENDIR's reply is used only when the reply
// confirms the prediction. When it does not, the READDIR went to a free
// slot and read nothing: the model can only be wrong by believing a free
// slot taken, after an open failed. After a wrong prediction the model
// waits until no handle of the session is open, when the server's stack
// holds every slot in the order of their last CLOSE, and starts again
// from that.
//
// NOTE: the guarantee rests on the slot stack of OpenSSH's sftp-server
// (handle_new and handle_unused in sftp-server.c). A server that announced
// limits@openssh.com but granted slots in another order could have an
// early READDIR reach another open directory while two opens are in
// flight.
//
// Every field is guarded by extChannel.mu.
type handleModel struct {
	enabled bool     // the server is OpenSSH's sftp-server
	free    []uint32 // free slots, the next one last
	slots   uint32   // slots the server has made
	// opening counts opens without a reply, open the handles granted and
	// not yet closed.
	opening, open int
	// lost is set after a wrong prediction, until the next resync.
	lost bool
	// closeSeq numbers the latest CLOSE of each slot, for the resync.
	closeSeq map[uint32]uint64
	seq      uint64
}

// predictHandles turns handle prediction on for a server known to be
// OpenSSH's sftp-server.
func (e *extChannel) predictHandles(on bool) {
	e.mu.Lock()
	e.handles.enabled = on
	e.mu.Unlock()
}

// handleString is the handle OpenSSH's sftp-server sends for slot i.
func handleString(i uint32) string {
	return string(binary.BigEndian.AppendUint32(nil, i))
}

// alloc records an OPENDIR or OPEN about to be sent and returns the slot the
// server will grant it, and whether READDIRs for it may be sent at once.
func (m *handleModel) alloc() (uint32, bool) {
	m.opening++
	var slot uint32
	if n := len(m.free); n > 0 {
		slot = m.free[n-1]
		m.free = m.free[:n-1]
	} else {
		slot = m.slots
		m.slots++
	}
	return slot, m.enabled && !m.lost
}

// opened records the reply to the open whose predicted slot was pred:
// the handle granted when ok, or a failure.
func (m *handleModel) opened(pred uint32, handle string, ok bool) {
	m.opening--
	if ok {
		m.open++
	}
	if !ok || handle != handleString(pred) {
		m.lost = true
	}
	m.resync()
}

// closed records a CLOSE of handle sent to the server.
func (m *handleModel) closed(handle string) {
	m.open--
	if len(handle) == 4 {
		slot := binary.BigEndian.Uint32([]byte(handle))
		if m.closeSeq == nil {
			m.closeSeq = make(map[uint32]uint64)
		}
		m.seq++
		m.closeSeq[slot] = m.seq
		if !m.lost {
			m.free = append(m.free, slot)
		}
	} else {
		// Not a handle of OpenSSH's sftp-server.
		m.enabled = false
	}
	m.resync()
}

// resync rebuilds a lost model once no handle is open or being opened.
func (m *handleModel) resync() {
	if !m.lost || m.opening != 0 || m.open != 0 {
		return
	}
	slots := uint32(0)
	for slot := range m.closeSeq {
		slots = max(slots, slot+1)
	}
	m.free = m.free[:0]
	for slot := range m.closeSeq {
		m.free = append(m.free, slot)
	}
	// The slot closed last is on top of the server's stack.
	slices.SortFunc(m.free, func(a, b uint32) int { return cmp.Compare(m.closeSeq[a], m.closeSeq[b]) })
	m.slots = slots
	m.lost = uint32(len(m.free)) != slots
	if m.lost {
		// A slot was granted and never closed through closeHandle: the
		// model cannot know where it is, so it stays off.
		m.enabled = false
	}
}

// appendNames parses a NAME reply and appends its entries, without "." and
// "..".
func appendNames(out []DirEntry, b []byte) ([]DirEntry, error) {
	if len(b) < 4 {
		return nil, io.ErrUnexpectedEOF
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	for i := uint32(0); i < count; i++ {
		name, rest, ok := takeString(b)
		if !ok {
			return nil, io.ErrUnexpectedEOF
		}
		if _, rest, ok = takeString(rest); !ok { // the ls -l style long name
			return nil, io.ErrUnexpectedEOF
		}
		a, rest, err := parseAttrs(rest)
		if err != nil {
			return nil, err
		}
		b = rest
		if name == "." || name == ".." {
			continue
		}
		out = append(out, DirEntry{Name: name, Attr: a})
	}
	return out, nil
}

// parseAttrs parses SFTP version 3 ATTRS.
func parseAttrs(b []byte) (Attr, []byte, error) {
	var a Attr
	u32 := func() (uint32, bool) {
		if len(b) < 4 {
			return 0, false
		}
		v := binary.BigEndian.Uint32(b)
		b = b[4:]
		return v, true
	}
	flags, ok := u32()
	if !ok {
		return a, nil, io.ErrUnexpectedEOF
	}
	if flags&attrFlagSize != 0 {
		if len(b) < 8 {
			return a, nil, io.ErrUnexpectedEOF
		}
		a.Size = binary.BigEndian.Uint64(b)
		b = b[8:]
	}
	if flags&attrFlagUIDGID != 0 {
		uid, ok1 := u32()
		gid, ok2 := u32()
		if !ok1 || !ok2 {
			return a, nil, io.ErrUnexpectedEOF
		}
		a.UID, a.GID = uid, gid
	}
	if flags&attrFlagPermissions != 0 {
		if a.Mode, ok = u32(); !ok {
			return a, nil, io.ErrUnexpectedEOF
		}
	}
	if flags&attrFlagACModTime != 0 {
		at, ok1 := u32()
		mt, ok2 := u32()
		if !ok1 || !ok2 {
			return a, nil, io.ErrUnexpectedEOF
		}
		a.Atime, a.Mtime = at, mt
	}
	if flags&attrFlagExtended != 0 {
		n, ok := u32()
		if !ok {
			return a, nil, io.ErrUnexpectedEOF
		}
		for i := uint32(0); i < n; i++ {
			var ok1, ok2 bool
			_, b, ok1 = takeString(b)
			if ok1 {
				_, b, ok2 = takeString(b)
			}
			if !ok1 || !ok2 {
				return a, nil, fmt.Errorf("remote: malformed extended attribute")
			}
		}
	}
	return a, b, nil
}

package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
// CLOSE is sent without waiting for its reply.
func (e *extChannel) readDir(p string) ([]DirEntry, error) {
	ch, err := e.send(fxpOpendir, appendString(nil, p))
	if err != nil {
		return nil, err
	}
	rep := <-ch
	if rep.err != nil {
		return nil, rep.err
	}
	if rep.typ != fxpHandle {
		return nil, statusError(rep)
	}
	handle, _, ok := takeString(rep.data)
	if !ok {
		return nil, errors.New("remote: malformed HANDLE reply")
	}
	defer e.closeHandle(handle)

	var out []DirEntry
	for {
		first, err := e.send(fxpReaddir, appendString(nil, handle))
		if err != nil {
			return nil, err
		}
		second, err := e.send(fxpReaddir, appendString(nil, handle))
		if err != nil {
			return nil, err
		}
		done := false
		for _, ch := range []<-chan extReply{first, second} {
			rep := <-ch
			if done {
				continue
			}
			if rep.err != nil {
				return nil, rep.err
			}
			if rep.typ != fxpName {
				if err := statusError(rep); err != nil && statusCode(err) != fxEOF {
					return nil, err
				}
				done = true
				continue
			}
			if out, err = appendNames(out, rep.data); err != nil {
				return nil, err
			}
		}
		if done {
			return out, nil
		}
	}
}

// closeHandle sends CLOSE and discards the reply.
func (e *extChannel) closeHandle(handle string) {
	ch, err := e.send(fxpClose, appendString(nil, handle))
	if err != nil {
		return
	}
	go func() { <-ch }()
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

package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// SFTP version 3 packet types and attribute flags used by extChannel.
const (
	fxpInit          = 1
	fxpVersion       = 2
	fxpStatus        = 101
	fxpExtended      = 200
	fxpExtendedReply = 201

	attrFlagSize        = 0x1
	attrFlagUIDGID      = 0x2
	attrFlagPermissions = 0x4
	attrFlagACModTime   = 0x8

	fxOK            = 0
	fxOpUnsupported = 8
)

// extChannel sends SFTP extended requests that pkg/sftp has no call for
// (lsetstat@openssh.com, limits@openssh.com). It runs on a second "sftp"
// subsystem channel of the same SSH connection, which is possible because
// these requests take paths, not handles of the first channel.
//
// Requests may be issued concurrently: each one waits on its own reply
// channel, keyed by request id, and one goroutine reads every reply.
type extChannel struct {
	session *ssh.Session
	w       io.WriteCloser

	// extensions is the server's extension list from its VERSION packet.
	extensions map[string]string

	mu      sync.Mutex // guards nextID, pending, err, handles and writes to w
	nextID  uint32
	pending map[uint32]chan extReply
	err     error
	// handles predicts the handle of the next OPENDIR.
	handles handleModel
}

type extReply struct {
	typ  byte
	data []byte
	err  error
}

// errExtClosed is returned for requests sent after the channel failed.
var errExtClosed = errors.New("remote: extension channel closed")

func openExtChannel(client *ssh.Client) (*extChannel, error) {
	session, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("remote: open extension session: %w", err)
	}
	w, err := session.StdinPipe()
	if err != nil {
		session.Close()
		return nil, fmt.Errorf("remote: extension stdin: %w", err)
	}
	r, err := session.StdoutPipe()
	if err != nil {
		session.Close()
		return nil, fmt.Errorf("remote: extension stdout: %w", err)
	}
	if err := session.RequestSubsystem("sftp"); err != nil {
		session.Close()
		return nil, fmt.Errorf("remote: start sftp subsystem for extensions: %w", err)
	}

	e := &extChannel{session: session, w: w, pending: make(map[uint32]chan extReply)}
	if err := e.handshake(r); err != nil {
		session.Close()
		return nil, err
	}
	go e.readLoop(r)
	return e, nil
}

func (e *extChannel) handshake(r io.Reader) error {
	init := []byte{0, 0, 0, 5, fxpInit, 0, 0, 0, 3}
	if _, err := e.w.Write(init); err != nil {
		return fmt.Errorf("remote: extension init: %w", err)
	}
	typ, body, err := readPacket(r)
	if err != nil {
		return fmt.Errorf("remote: extension version: %w", err)
	}
	if typ != fxpVersion || len(body) < 4 {
		return fmt.Errorf("remote: extension channel: unexpected packet type %d", typ)
	}
	body = body[4:]
	e.extensions = make(map[string]string)
	for len(body) > 0 {
		name, rest, ok := takeString(body)
		if !ok {
			break
		}
		data, rest, ok := takeString(rest)
		if !ok {
			break
		}
		e.extensions[name] = data
		body = rest
	}
	return nil
}

func (e *extChannel) readLoop(r io.Reader) {
	for {
		typ, body, err := readPacket(r)
		if err != nil {
			e.fail(err)
			return
		}
		if len(body) < 4 {
			e.fail(fmt.Errorf("remote: short reply of type %d", typ))
			return
		}
		id := binary.BigEndian.Uint32(body)
		e.mu.Lock()
		ch := e.pending[id]
		delete(e.pending, id)
		e.mu.Unlock()
		if ch != nil {
			ch <- extReply{typ: typ, data: body[4:]}
		}
	}
}

func (e *extChannel) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
	for id, ch := range e.pending {
		ch <- extReply{err: errExtClosed}
		delete(e.pending, id)
	}
}

// has reports whether the server announced extension name.
func (e *extChannel) has(name string) bool {
	_, ok := e.extensions[name]
	return ok
}

// request sends one SSH_FXP_EXTENDED request and waits for its reply.
func (e *extChannel) request(name string, payload []byte) (extReply, error) {
	body := appendString(make([]byte, 0, 4+len(name)+len(payload)), name)
	body = append(body, payload...)
	return e.call(fxpExtended, body)
}

// call sends one request of type typ and waits for its reply.
func (e *extChannel) call(typ byte, body []byte) (extReply, error) {
	ch, err := e.send(typ, body)
	if err != nil {
		return extReply{}, err
	}
	rep := <-ch
	return rep, rep.err
}

// send writes one request of type typ with body after its id and returns
// the channel its reply arrives on.
func (e *extChannel) send(typ byte, body []byte) (<-chan extReply, error) {
	e.mu.Lock()
	ch, err := e.sendLocked(typ, body)
	e.mu.Unlock()
	if err != nil {
		e.fail(err)
		return nil, errExtClosed
	}
	return ch, nil
}

// sendLocked is send with e.mu held. A write error is returned for the
// caller to pass to fail once the lock is released.
func (e *extChannel) sendLocked(typ byte, body []byte) (<-chan extReply, error) {
	if e.err != nil {
		return nil, errExtClosed
	}
	ch := make(chan extReply, 1)
	e.nextID++
	id := e.nextID
	e.pending[id] = ch
	pkt := make([]byte, 0, 9+len(body))
	pkt = append(pkt, 0, 0, 0, 0, typ)
	pkt = binary.BigEndian.AppendUint32(pkt, id)
	pkt = append(pkt, body...)
	binary.BigEndian.PutUint32(pkt, uint32(len(pkt)-4))
	if _, err := e.w.Write(pkt); err != nil {
		return nil, err
	}
	return ch, nil
}

// statusError turns a STATUS reply into nil (OK) or an *sftpStatus.
func statusError(rep extReply) error {
	if rep.typ != fxpStatus || len(rep.data) < 4 {
		return fmt.Errorf("remote: unexpected reply type %d", rep.typ)
	}
	code := binary.BigEndian.Uint32(rep.data)
	if code == fxOK {
		return nil
	}
	msg, _, _ := takeString(rep.data[4:])
	return &sftpStatus{Code: code, Msg: msg}
}

func (e *extChannel) close() {
	e.session.Close()
}

// sftpStatus is a non-OK SFTP status from the extension channel.
type sftpStatus struct {
	Code uint32
	Msg  string
}

func (s *sftpStatus) Error() string { return fmt.Sprintf("sftp status %d: %s", s.Code, s.Msg) }

func readPacket(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 || n > 1<<20 {
		return 0, nil, fmt.Errorf("remote: invalid packet length %d", n)
	}
	body := make([]byte, n-1)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return hdr[4], body, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func takeString(b []byte) (string, []byte, bool) {
	if len(b) < 4 {
		return "", nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return "", nil, false
	}
	return string(b[4 : 4+n]), b[4+n:], true
}

// setAttrs is the subset of SFTP attributes a setstat request changes.
type setAttrs struct {
	Flags    uint32
	Size     uint64
	UID, GID uint32
	Perm     uint32
	Atime    uint32
	Mtime    uint32
}

func (a setAttrs) marshal(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, a.Flags)
	if a.Flags&attrFlagSize != 0 {
		b = binary.BigEndian.AppendUint64(b, a.Size)
	}
	if a.Flags&attrFlagUIDGID != 0 {
		b = binary.BigEndian.AppendUint32(b, a.UID)
		b = binary.BigEndian.AppendUint32(b, a.GID)
	}
	if a.Flags&attrFlagPermissions != 0 {
		b = binary.BigEndian.AppendUint32(b, a.Perm)
	}
	if a.Flags&attrFlagACModTime != 0 {
		b = binary.BigEndian.AppendUint32(b, a.Atime)
		b = binary.BigEndian.AppendUint32(b, a.Mtime)
	}
	return b
}

// lsetstat changes a symlink's own attributes (lsetstat@openssh.com).
func (e *extChannel) lsetstat(path string, a setAttrs) error {
	rep, err := e.request("lsetstat@openssh.com", a.marshal(appendString(nil, path)))
	if err != nil {
		return err
	}
	return statusError(rep)
}

// limits returns the server's limits@openssh.com reply: maximum packet,
// read and write lengths and open handles; zero means no limit stated.
func (e *extChannel) limits() (maxPacket, maxRead, maxWrite, maxHandles uint64, err error) {
	rep, err := e.request("limits@openssh.com", nil)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if rep.typ != fxpExtendedReply {
		return 0, 0, 0, 0, statusError(rep)
	}
	if len(rep.data) < 32 {
		return 0, 0, 0, 0, fmt.Errorf("remote: short limits reply")
	}
	d := rep.data
	return binary.BigEndian.Uint64(d), binary.BigEndian.Uint64(d[8:]), binary.BigEndian.Uint64(d[16:]), binary.BigEndian.Uint64(d[24:]), nil
}

// setstatFollow sends a plain SETSTAT with several attributes at once.
func (e *extChannel) setstatFollow(path string, a setAttrs) error {
	const fxpSetstat = 9
	rep, err := e.call(fxpSetstat, a.marshal(appendString(nil, path)))
	if err != nil {
		return err
	}
	return statusError(rep)
}

// mkdir sends MKDIR with permission bits perm, which OpenSSH's sftp-server
// passes to mkdir(2), so its umask applies to them.
func (e *extChannel) mkdir(path string, perm uint32) error {
	const fxpMkdir = 14
	rep, err := e.call(fxpMkdir, setAttrs{Flags: attrFlagPermissions, Perm: perm}.marshal(appendString(nil, path)))
	if err != nil {
		return err
	}
	return statusError(rep)
}

// fsyncPath opens p for reading and requests that the server write the
// file's data to its disk (fsync@openssh.com). fsync covers every byte of
// the file, whichever handle wrote it.
func (e *extChannel) fsyncPath(p string) error {
	const pflagRead = 1
	body := appendString(nil, p)
	body = binary.BigEndian.AppendUint32(body, pflagRead)
	body = binary.BigEndian.AppendUint32(body, 0) // no attributes

	e.mu.Lock()
	pred, _ := e.handles.alloc()
	opened, err := e.sendLocked(fxpOpen, body)
	e.mu.Unlock()
	if err != nil {
		e.fail(err)
		return errExtClosed
	}
	handle, err := e.awaitHandle(opened, pred)
	if err != nil {
		return err
	}
	defer e.closeHandle(handle)

	rep, err := e.request("fsync@openssh.com", appendString(nil, handle))
	if err != nil {
		return err
	}
	return statusError(rep)
}

package serve

import (
	"encoding/binary"
	"io"
	"os"
	"path"
	"sync"
)

// SFTP version 3 constants (draft-ietf-secsh-filexfer-02), with the values
// that pkg/sftp v1.13.12 uses. Attributes follow their flags in the order
// size, uid and gid, permissions.
const (
	fxpOpen  = 3  // SSH_FXP_OPEN
	fxpMkdir = 14 // SSH_FXP_MKDIR

	fxfCreat = 0x08 // SSH_FXF_CREAT

	attrSize        = 0x01 // SSH_FILEXFER_ATTR_SIZE
	attrUIDGID      = 0x02 // SSH_FILEXFER_ATTR_UIDGID
	attrPermissions = 0x04 // SSH_FILEXFER_ATTR_PERMISSIONS
)

// maxPacketLength is the longest packet pkg/sftp v1.13.12 accepts. It ends
// the session on a longer one.
const maxPacketLength = 256 * 1024

// modeRecorder passes the client's SFTP stream to pkg/sftp unchanged and
// records the permissions requested by SSH_FXP_OPEN with SSH_FXF_CREAT and
// by SSH_FXP_MKDIR.
//
// pkg/sftp v1.13.12 does not give these permissions to request-server
// handlers. For an open request it drops the attribute flags, so
// Request.Attributes would decode the attributes with the open flags, and
// for a mkdir request it discards the attributes. The handler takes each
// recorded mode back with take. pkg/sftp handles every request except read
// and write on one goroutine in arrival order, so the n-th take for a path
// returns the mode of the n-th recorded request for that path.
type modeRecorder struct {
	r io.Reader

	// Parser state, used only by the goroutine that calls Read.
	header   [5]byte // packet length (uint32) and packet type
	headerN  int
	body     []byte // body of an open or mkdir packet, while it arrives
	bodySize int
	skip     int  // bytes left of a packet that is not recorded
	stopped  bool // set on an invalid length, after which pkg/sftp ends the session

	mu     sync.Mutex
	queues map[modeKey][]requestedMode // guarded by mu
}

type modeKey struct {
	packetType byte
	path       string // cleaned as pkg/sftp cleans Request.Filepath
}

// requestedMode is the permission attribute of one request. set is false
// when the request carried none.
type requestedMode struct {
	mode os.FileMode
	set  bool
}

func newModeRecorder(r io.Reader) *modeRecorder {
	return &modeRecorder{r: r, queues: make(map[modeKey][]requestedMode)}
}

func (m *modeRecorder) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.scan(p[:n])
	return n, err
}

// take removes and returns the oldest mode recorded for a request of
// packetType on the cleaned path p. ok is false when that request carried
// no permissions or none was recorded.
func (m *modeRecorder) take(packetType byte, p string) (mode os.FileMode, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()

	key := modeKey{packetType, p}
	queue := m.queues[key]
	if len(queue) == 0 {
		return 0, false
	}
	if len(queue) == 1 {
		delete(m.queues, key)
	} else {
		m.queues[key] = queue[1:]
	}
	return queue[0].mode, queue[0].set
}

// scan follows the packet framing (uint32 length, then that many bytes
// starting with the type) across Read calls.
func (m *modeRecorder) scan(b []byte) {
	for len(b) > 0 && !m.stopped {
		switch {
		case m.skip > 0:
			n := min(m.skip, len(b))
			m.skip -= n
			b = b[n:]

		case m.body != nil:
			n := min(m.bodySize-len(m.body), len(b))
			m.body = append(m.body, b[:n]...)
			b = b[n:]
			if len(m.body) == m.bodySize {
				m.record(m.header[4], m.body)
				m.body = nil
			}

		default:
			n := copy(m.header[m.headerN:], b)
			m.headerN += n
			b = b[n:]
			if m.headerN == len(m.header) {
				m.startPacket()
			}
		}
	}
}

// startPacket decides, from a complete header, whether to collect or skip
// the rest of the packet.
func (m *modeRecorder) startPacket() {
	m.headerN = 0
	length := binary.BigEndian.Uint32(m.header[:4])
	if length < 1 || length > maxPacketLength {
		m.stopped = true
		return
	}

	size := int(length) - 1 // the length counts the type byte
	packetType := m.header[4]
	switch {
	case packetType != fxpOpen && packetType != fxpMkdir:
		m.skip = size
	case size == 0:
		// Too short to parse. pkg/sftp rejects it and ends the session.
	default:
		m.body = make([]byte, 0, size)
		m.bodySize = size
	}
}

// record queues the permissions of an open or mkdir packet body. It skips
// bodies that pkg/sftp also fails to parse, because those never reach a
// handler, and open requests without SSH_FXF_CREAT, whose handlers do not
// call take.
func (m *modeRecorder) record(packetType byte, body []byte) {
	d := decoder{b: body}
	d.uint32() // request id
	requestPath := d.string()
	if packetType == fxpOpen {
		openFlags := d.uint32()
		if !d.failed && openFlags&fxfCreat == 0 {
			return
		}
	}
	attrFlags := d.uint32()
	if d.failed {
		return
	}

	var entry requestedMode
	if attrFlags&attrSize != 0 {
		d.skip(8)
	}
	if attrFlags&attrUIDGID != 0 {
		d.skip(8)
	}
	if attrFlags&attrPermissions != 0 {
		permissions := d.uint32()
		entry = requestedMode{mode: fileMode(permissions), set: !d.failed}
	}

	key := modeKey{packetType, path.Join("/", requestPath)}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queues[key] = append(m.queues[key], entry)
}

// decoder reads SFTP wire values and sets failed when b is too short.
type decoder struct {
	b      []byte
	failed bool
}

func (d *decoder) uint32() uint32 {
	if d.failed || len(d.b) < 4 {
		d.failed = true
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) string() string {
	n := d.uint32()
	if d.failed || uint64(n) > uint64(len(d.b)) {
		d.failed = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) skip(n int) {
	if d.failed || len(d.b) < n {
		d.failed = true
		return
	}
	d.b = d.b[n:]
}

// fileMode converts SFTP permission bits (the low 12 bits of the POSIX
// st_mode) to an os.FileMode.
func fileMode(permissions uint32) os.FileMode {
	mode := os.FileMode(permissions & 0o777)
	if permissions&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if permissions&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if permissions&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

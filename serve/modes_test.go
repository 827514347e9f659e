package serve

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

// sftpPacket encodes one packet: length, type, then uint32, uint64 and
// string fields.
func sftpPacket(packetType byte, fields ...any) []byte {
	var body []byte
	for _, field := range fields {
		switch v := field.(type) {
		case uint32:
			body = binary.BigEndian.AppendUint32(body, v)
		case uint64:
			body = binary.BigEndian.AppendUint64(body, v)
		case string:
			body = binary.BigEndian.AppendUint32(body, uint32(len(v)))
			body = append(body, v...)
		case []byte:
			body = append(body, v...)
		default:
			panic("unsupported field type")
		}
	}
	packet := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	packet = append(packet, packetType)
	return append(packet, body...)
}

func TestModeRecorderParsesStream(t *testing.T) {
	const fxfWrite = 0x02
	var stream bytes.Buffer
	stream.Write(sftpPacket(1, uint32(3)))                                                                               // SSH_FXP_INIT
	stream.Write(sftpPacket(fxpOpen, uint32(1), "a", uint32(fxfWrite|fxfCreat), uint32(attrPermissions), uint32(0o600))) // recorded
	stream.Write(sftpPacket(fxpOpen, uint32(2), "b", uint32(fxfWrite), uint32(attrPermissions), uint32(0o600)))          // no CREAT: skipped
	stream.Write(sftpPacket(6, uint32(3), "handle", uint64(0), bytes.Repeat([]byte{'x'}, 70000)))                        // SSH_FXP_WRITE: skipped
	stream.Write(sftpPacket(fxpMkdir, uint32(4), "/d/../e", uint32(0)))                                                  // no permissions
	stream.Write(sftpPacket(fxpMkdir, uint32(5), "e", uint32(attrSize|attrUIDGID|attrPermissions), uint64(0), uint32(1), uint32(2), uint32(0o2750)))
	stream.Write(sftpPacket(fxpOpen, uint32(6), "a", uint32(fxfCreat), uint32(attrPermissions), uint32(0o640)))
	stream.Write(sftpPacket(fxpMkdir, uint32(7), "truncated", uint32(attrPermissions), []byte{0, 0})) // permissions cut short
	want := stream.Bytes()

	// OneByteReader splits every packet across Read calls.
	recorder := newModeRecorder(iotest.OneByteReader(bytes.NewReader(want)))
	got, err := io.ReadAll(recorder)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("recorder changed the stream")
	}

	tests := []struct {
		name       string
		packetType byte
		path       string
		wantMode   os.FileMode
		wantOK     bool
	}{
		{"first open of /a", fxpOpen, "/a", 0o600, true},
		{"second open of /a", fxpOpen, "/a", 0o640, true},
		{"open without CREAT", fxpOpen, "/b", 0, false},
		{"mkdir without permissions", fxpMkdir, "/e", 0, false},
		{"mkdir after size and owner", fxpMkdir, "/e", os.ModeSetgid | 0o750, true},
		{"mkdir with cut permissions", fxpMkdir, "/truncated", 0, false},
		{"queue drained", fxpOpen, "/a", 0, false},
	}
	for _, tt := range tests {
		mode, ok := recorder.take(tt.packetType, tt.path)
		if mode != tt.wantMode || ok != tt.wantOK {
			t.Errorf("%s: take = %v, %v, want %v, %v", tt.name, mode, ok, tt.wantMode, tt.wantOK)
		}
	}
	if len(recorder.queues) != 0 {
		t.Errorf("entries left after all takes: %v", recorder.queues)
	}
}

func TestModeRecorderStopsOnInvalidLength(t *testing.T) {
	stream := binary.BigEndian.AppendUint32(nil, maxPacketLength+1)
	stream = append(stream, sftpPacket(fxpMkdir, uint32(1), "d", uint32(attrPermissions), uint32(0o700))...)

	recorder := newModeRecorder(bytes.NewReader(stream))
	if _, err := io.ReadAll(recorder); err != nil {
		t.Fatal(err)
	}
	if !recorder.stopped {
		t.Error("recorder did not stop after an oversized length")
	}
	if _, ok := recorder.take(fxpMkdir, "/d"); ok {
		t.Error("recorder kept parsing after an oversized length")
	}
}

func TestFileModeConversion(t *testing.T) {
	tests := map[uint32]os.FileMode{
		0o644:             0o644,
		0o100755:          0o755, // type bits from S_IFREG are dropped
		0o4755:            os.ModeSetuid | 0o755,
		0o2750:            os.ModeSetgid | 0o750,
		0o1777:            os.ModeSticky | 0o777,
		0o7000 | 0o040000: os.ModeSetuid | os.ModeSetgid | os.ModeSticky,
	}
	for in, want := range tests {
		if got := fileMode(in); got != want {
			t.Errorf("fileMode(%#o) = %v, want %v", in, got, want)
		}
	}
}

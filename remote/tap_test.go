package remote

import (
	"encoding/binary"
	"testing"
)

type nopWriteCloser struct{ n int }

func (w *nopWriteCloser) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *nopWriteCloser) Close() error                { return nil }

// packetHeader builds what pkg/sftp writes first for a packet of type typ
// whose fields after the id are fields and whose data of payload bytes
// follows in a second write.
func packetHeader(typ byte, fields []byte, payload int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+4+len(fields)+payload))
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, 7)
	return append(b, fields...)
}

func TestWireTapReportsSentWrites(t *testing.T) {
	var reg sendRegistry
	cn := &conn{}
	tap := &wireTap{w: &nopWriteCloser{}, reg: &reg, cn: cn}

	data := make([]byte, 100)
	other := make([]byte, 10)
	pw := reg.trackWrite(data)

	// An unrelated write's data leaves the tracked one pending.
	fields := appendString(nil, "handle")
	fields = binary.BigEndian.AppendUint64(fields, 0)
	fields = binary.BigEndian.AppendUint32(fields, uint32(len(other)))
	tap.Write(packetHeader(fxpWrite, fields, len(other)))
	tap.Write(other)
	// The tracked data goes out in two packets, as a large write does.
	for _, part := range [][]byte{data[:60], data[60:]} {
		fields := appendString(nil, "handle")
		fields = binary.BigEndian.AppendUint64(fields, 0)
		fields = binary.BigEndian.AppendUint32(fields, uint32(len(part)))
		select {
		case <-pw.sent:
			t.Fatal("reported sent before all of its data was written")
		default:
		}
		tap.Write(packetHeader(fxpWrite, fields, len(part)))
		tap.Write(part)
	}
	select {
	case <-pw.sent:
	default:
		t.Fatal("not reported sent after all of its data was written")
	}
	if pw.cn != cn {
		t.Error("the sent write does not name its connection")
	}
	reg.untrack(pw)
	if len(reg.writes) != 0 {
		t.Errorf("%d writes still tracked after untrack", len(reg.writes))
	}
}

func TestWireTapReportsSentOpen(t *testing.T) {
	var reg sendRegistry
	cn := &conn{}
	tap := &wireTap{w: &nopWriteCloser{}, reg: &reg, cn: cn}
	po := reg.expectOpen("/dir/new")

	// A stat of the same path is not an open.
	tap.Write(packetHeader(7, appendString(nil, "/dir/new"), 0))
	tap.Write(packetHeader(fxpOpen, append(appendString(nil, "/dir/other"), 0, 0, 0, 0x1a, 0, 0, 0, 0), 0))
	select {
	case <-po.sent:
		t.Fatal("reported an open of another path, or a stat")
	default:
	}
	tap.Write(packetHeader(fxpOpen, append(appendString(nil, "/dir/new"), 0, 0, 0, 0x1a, 0, 0, 0, 0), 0))
	select {
	case <-po.sent:
	default:
		t.Fatal("the open was not reported")
	}
	if po.cn != cn {
		t.Error("the open does not name its connection")
	}
	reg.dropOpen("/dir/new", po)
	if len(reg.opens) != 0 {
		t.Errorf("opens still registered: %v", reg.opens)
	}
}

// recordingWriter keeps every write it is given.
type recordingWriter struct{ writes [][]byte }

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), b...))
	return len(b), nil
}
func (w *recordingWriter) Close() error { return nil }

// TestWireTapMergesWriteHeader checks that a WRITE's header goes to the
// channel in one write with the start of its data, and that data beyond
// mergeMax follows in a second write. A packet without data must pass at
// once, and the channel must receive the same bytes in the same order.
func TestWireTapMergesWriteHeader(t *testing.T) {
	var reg sendRegistry
	rec := &recordingWriter{}
	tap := &wireTap{w: rec, reg: &reg, cn: &conn{}}

	var want []byte
	send := func(payload int) {
		fields := appendString(nil, "handle")
		fields = binary.BigEndian.AppendUint64(fields, 0)
		fields = binary.BigEndian.AppendUint32(fields, uint32(payload))
		header := packetHeader(fxpWrite, fields, payload)
		data := make([]byte, payload)
		for i := range data {
			data[i] = byte(i * 7)
		}
		want = append(append(want, header...), data...)
		if n, err := tap.Write(header); n != len(header) || err != nil {
			t.Fatalf("header write: %d, %v", n, err)
		}
		if n, err := tap.Write(data); n != len(data) || err != nil {
			t.Fatalf("data write: %d, %v", n, err)
		}
	}
	send(100)
	if len(rec.writes) != 1 {
		t.Fatalf("a 100-byte WRITE took %d channel writes, want 1", len(rec.writes))
	}
	send(100 << 10)
	if len(rec.writes) != 3 || len(rec.writes[1]) != mergeMax {
		t.Fatalf("a 100 KiB WRITE took %d channel writes (first %d bytes), want 2 with the first %d bytes",
			len(rec.writes)-1, len(rec.writes[1]), mergeMax)
	}
	stat := packetHeader(7, appendString(nil, "/a/path"), 0)
	want = append(want, stat...)
	tap.Write(stat)
	if len(rec.writes) != 4 {
		t.Fatalf("a packet without data was held back")
	}
	var got []byte
	for _, w := range rec.writes {
		got = append(got, w...)
	}
	if string(got) != string(want) {
		t.Fatal("the channel received other bytes than were written")
	}
}

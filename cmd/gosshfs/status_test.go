package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gosshfs/gosshfs/control"
)

func TestStatusTable(t *testing.T) {
	now := time.Date(2025, 1, 2, 15, 0, 0, 0, time.UTC)
	reports := []daemonReport{
		{daemon: control.Daemon{Socket: "/run/gosshfs/10.sock", PID: 10}, status: &control.Status{
			PID: 10, MountPoint: "/mnt/a", Source: "alice@host:/srv", Started: now.Add(-2*time.Hour - 5*time.Minute),
			Connected: 2, Connections: 2, RoundTripSeconds: 0.0123, BytesRead: 1536, BytesWritten: 3 << 20,
			CacheHits: 3, CacheMisses: 1, Reconnects: 4,
		}},
		{daemon: control.Daemon{Socket: "/run/gosshfs/11.sock", PID: 11}, status: &control.Status{
			PID: 11, MountPoint: "/mnt/b", Source: "host:", Started: now.Add(-42 * time.Second),
			Connected: 0, Connections: 2, LastError: "dial tcp 10.0.0.1:22: connection refused", PingError: "not connected",
		}},
		{daemon: control.Daemon{Socket: "/run/gosshfs/12.sock", PID: 12}, err: errors.New("connection reset")},
	}

	var out bytes.Buffer
	if err := writeStatusTable(&out, reports, now); err != nil {
		t.Fatal(err)
	}
	want := `MOUNTPOINT  REMOTE           STATE             UPTIME  RECONNECTS  RTT     READ     WRITTEN  CACHE HITS
/mnt/a      alice@host:/srv  connected 2/2     2h05m   4           12.3ms  1.5 KiB  3.0 MiB  75.0%
/mnt/b      host:            disconnected 0/2  42s     0           -       0 B      0 B      -
/mnt/b: last connection error: dial tcp 10.0.0.1:22: connection refused
daemon 12 (/run/gosshfs/12.sock) did not reply: connection reset
`
	if out.String() != want {
		t.Errorf("status table:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestStatusTableEmpty(t *testing.T) {
	var out bytes.Buffer
	if err := writeStatusTable(&out, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "no gosshfs mounts\n" {
		t.Errorf("status without mounts printed %q", out.String())
	}
}

func TestStatusJSON(t *testing.T) {
	reports := []daemonReport{
		{daemon: control.Daemon{Socket: "/s/10.sock", PID: 10},
			status: &control.Status{PID: 10, MountPoint: "/mnt/a", CacheHits: 1, CacheMisses: 1}},
		{daemon: control.Daemon{Socket: "/s/12.sock", PID: 12}, err: errors.New("timed out")},
	}
	var out bytes.Buffer
	if err := writeStatusJSON(&out, reports); err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := json.Unmarshal(out.Bytes(), &items); err != nil {
		t.Fatalf("status --json printed invalid JSON: %v\n%s", err, out.String())
	}
	if len(items) != 2 {
		t.Fatalf("status --json printed %d items, want 2", len(items))
	}
	if items[0]["mount_point"] != "/mnt/a" || items[0]["pid"] != 10.0 || items[0]["cache_hit_ratio"] != 0.5 {
		t.Errorf("first item = %v", items[0])
	}
	if items[1]["pid"] != 12.0 || items[1]["error"] != "timed out" || items[1]["mount_point"] != nil {
		t.Errorf("item of a daemon that did not reply = %v, want pid, socket and error only", items[1])
	}
}

func TestFormatBytes(t *testing.T) {
	tests := map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1 << 20: "1.0 MiB", 5 << 40: "5.0 TiB", 3 << 60: "3072.0 PiB"}
	for n, want := range tests {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatUptime(t *testing.T) {
	tests := map[time.Duration]string{
		-time.Second:                  "0s",
		59 * time.Second:              "59s",
		61 * time.Second:              "1m01s",
		3*time.Hour + 7*time.Minute:   "3h07m",
		50*time.Hour + 30*time.Minute: "2d02h",
	}
	for d, want := range tests {
		if got := formatUptime(d); got != want {
			t.Errorf("formatUptime(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestStatusCommandRejectsArguments(t *testing.T) {
	code, _, stderr := runCommand(t, "gosshfs", "status", "extra")
	if code != exitUsage || !strings.Contains(stderr, "too many arguments") {
		t.Errorf("gosshfs status extra: status %d, stderr %q; want a usage error", code, stderr)
	}
}

package main

import (
	"testing"

	"github.com/gosshfs/gosshfs/control"
)

func TestFindOwningMount(t *testing.T) {
	reports := []daemonReport{
		{daemon: control.Daemon{PID: 1}, status: &control.Status{MountPoint: "/mnt"}},
		{daemon: control.Daemon{PID: 2}, status: &control.Status{MountPoint: "/mnt/data"}},
		{daemon: control.Daemon{PID: 3}, status: &control.Status{MountPoint: "/"}},
		{daemon: control.Daemon{PID: 4}}, // did not reply
	}
	tests := []struct {
		path    string
		wantPID int
		wantRel string
	}{
		{"/mnt/data/docs/a.txt", 2, "docs/a.txt"},
		{"/mnt/data", 2, ""},
		{"/mnt/database", 1, "database"},
		{"/mnt/other/", 1, "other"},
		{"/etc/passwd", 3, "etc/passwd"},
	}
	for _, tt := range tests {
		owner, rel, found := findOwningMount(reports, tt.path)
		if !found || owner.daemon.PID != tt.wantPID || rel != tt.wantRel {
			t.Errorf("findOwningMount(%q) = pid %d, %q, %v; want pid %d, %q",
				tt.path, owner.daemon.PID, rel, found, tt.wantPID, tt.wantRel)
		}
	}

	if _, _, found := findOwningMount(reports[:2], "/srv"); found {
		t.Error("findOwningMount found a mount for /srv, which is on none")
	}
}

func TestRefreshCommandOutsideMounts(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	code, _, stderr := runCommand(t, "gosshfs", "refresh", "/nonexistent/path")
	if code != exitMountPoint {
		t.Errorf("gosshfs refresh of a path on no mount: status %d, stderr %q; want %d", code, stderr, exitMountPoint)
	}
}

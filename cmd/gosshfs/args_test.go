package main

import (
	"slices"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flags first already", []string{"-o", "ro", "h:/", "/mnt"}, []string{"-o", "ro", "h:/", "/mnt"}},
		{"options after positionals", []string{"h:/", "/mnt", "-o", "ro"}, []string{"-o", "ro", "h:/", "/mnt"}},
		{"mixed", []string{"h:/", "-p", "2222", "/mnt", "-o", "ro,uid=1"}, []string{"-p", "2222", "-o", "ro,uid=1", "h:/", "/mnt"}},
		{"glued -o", []string{"h:/", "/mnt", "-oro,allow_other"}, []string{"-o", "ro,allow_other", "h:/", "/mnt"}},
		{"glued -o with equals", []string{"-oUser=alice", "h:", "/mnt"}, []string{"-o", "User=alice", "h:", "/mnt"}},
		{"glued -p", []string{"h:/", "/mnt", "-p2222"}, []string{"-p", "2222", "h:/", "/mnt"}},
		{"glued -F", []string{"-Fnone", "h:", "/mnt"}, []string{"-F", "none", "h:", "/mnt"}},
		{"combined bool flags", []string{"h:", "/mnt", "-fd"}, []string{"-f", "-d", "h:", "/mnt"}},
		{"long flag with equals", []string{"h:", "/mnt", "--port=22"}, []string{"--port=22", "h:", "/mnt"}},
		{"single-dash long flag", []string{"h:", "/mnt", "-port", "22"}, []string{"-port", "22", "h:", "/mnt"}},
		{"-o=value", []string{"h:", "/mnt", "-o=ro"}, []string{"-o=ro", "h:", "/mnt"}},
		{"option value starting with dash", []string{"h:", "/mnt", "-o", "-weird"}, []string{"-o", "-weird", "h:", "/mnt"}},
		{"value equal to a command name", []string{"-o", "serve", "h:", "/mnt"}, []string{"-o", "serve", "h:", "/mnt"}},
		{"double dash keeps positionals", []string{"-o", "ro", "--", "h:", "-mnt"}, []string{"-o", "ro", "--", "h:", "-mnt"}},
		{"double dash then flag-like words", []string{"h:", "--", "/mnt", "-o"}, []string{"--", "h:", "/mnt", "-o"}},
		{"flags after double dash stay", []string{"-f", "--", "-o", "x"}, []string{"-f", "--", "-o", "x"}},
		{"unknown flag passes through", []string{"h:", "/mnt", "-x"}, []string{"-x", "h:", "/mnt"}},
		{"trailing -o without value", []string{"h:", "/mnt", "-o"}, []string{"-o", "h:", "/mnt"}},
		{"dash alone is positional", []string{"-", "/mnt"}, []string{"-", "/mnt"}},
		{"mount subcommand", []string{"mount", "h:", "/mnt", "-o", "ro"}, []string{"mount", "-o", "ro", "h:", "/mnt"}},
		{"flag before subcommand", []string{"-o", "ro", "mount", "h:", "/mnt"}, []string{"mount", "-o", "ro", "h:", "/mnt"}},
		{"umount lazy after", []string{"umount", "/mnt", "-z"}, []string{"umount", "-z", "/mnt"}},
		{"serve flags after", []string{"serve", "/srv", "--listen", "127.0.0.1:2022"}, []string{"serve", "--listen", "127.0.0.1:2022", "/srv"}},
		{"command word after double dash", []string{"--", "serve", "/mnt"}, []string{"--", "serve", "/mnt"}},
		{"help flag", []string{"-h"}, []string{"-h"}},
		{"version", []string{"version"}, []string{"version"}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reorderArgs(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("reorderArgs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHelperArgs(t *testing.T) {
	tests := []struct {
		name     string
		in       []string
		want     []string
		wantFake bool
	}{
		{"plain", []string{"u@h:/x", "/mnt", "-o", "rw,_netdev"}, []string{"u@h:/x", "/mnt", "-o", "rw,_netdev"}, false},
		{"mount flags dropped", []string{"h:", "/mnt", "-n", "-s", "-v", "-o", "ro", "-t", "fuse.gosshfs"}, []string{"h:", "/mnt", "-o", "ro"}, false},
		{"namespace dropped", []string{"h:", "/mnt", "-N", "/proc/1/ns/mnt"}, []string{"h:", "/mnt"}, false},
		{"fake", []string{"h:", "/mnt", "-f", "-o", "ro"}, []string{"h:", "/mnt", "-o", "ro"}, true},
		{"glued -o", []string{"h:", "/mnt", "-oro"}, []string{"h:", "/mnt", "-o", "ro"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fake := helperArgs(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("helperArgs(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if fake != tt.wantFake {
				t.Errorf("helperArgs(%q) fake = %v, want %v", tt.in, fake, tt.wantFake)
			}
		})
	}
}

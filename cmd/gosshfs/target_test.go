package main

import (
	"strings"
	"testing"
)

func TestParseTargetValid(t *testing.T) {
	tests := []struct {
		in   string
		want remoteTarget
	}{
		{"host:", remoteTarget{Host: "host"}},
		{"host:/srv/data", remoteTarget{Host: "host", Dir: "/srv/data"}},
		{"host:relative/dir", remoteTarget{Host: "host", Dir: "relative/dir"}},
		{"alice@host:", remoteTarget{User: "alice", Host: "host"}},
		{"alice@host:/x", remoteTarget{User: "alice", Host: "host", Dir: "/x"}},
		{"alice@example.com@host:/x", remoteTarget{User: "alice@example.com", Host: "host", Dir: "/x"}},
		{"host:/dir:with:colons", remoteTarget{Host: "host", Dir: "/dir:with:colons"}},
		{"host:/dir@at", remoteTarget{Host: "host", Dir: "/dir@at"}},
		{"[::1]:/srv", remoteTarget{Host: "::1", Dir: "/srv"}},
		{"[::1]:", remoteTarget{Host: "::1"}},
		{"user@[fe80::1]:dir", remoteTarget{User: "user", Host: "fe80::1", Dir: "dir"}},
		{"user@[fe80::1%eth0]:dir", remoteTarget{User: "user", Host: "fe80::1%eth0", Dir: "dir"}},
		{"[example.com]:/x", remoteTarget{Host: "example.com", Dir: "/x"}},
		{"127.0.0.1:/tmp", remoteTarget{Host: "127.0.0.1", Dir: "/tmp"}},
		{"my-alias:", remoteTarget{Host: "my-alias"}},
		{"host:dir with spaces", remoteTarget{Host: "host", Dir: "dir with spaces"}},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.in)
		if err != nil {
			t.Errorf("parseTarget(%q) error: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseTarget(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseTargetMalformed(t *testing.T) {
	for _, in := range []string{
		"", "host", "/local/path", ":", ":/dir", "@host:", "alice@:/x",
		"[::1", "[::1]", "[::1:/x", "::1]:/x", "[]:/x", "[::1]x:/x", "a[b]:/x",
		"[[::1]]:/x", "user@[::1:dir", "ho st:/x", "./dir:x", "host\t:/x",
	} {
		_, err := parseTarget(in)
		if err == nil {
			t.Errorf("parseTarget(%q) succeeded, want an error", in)
			continue
		}
		want := `invalid remote "` + in + `": expected [user@]host:[dir]`
		if err.Error() != strings.ReplaceAll(want, "\t", `\t`) {
			t.Errorf("parseTarget(%q) error = %q, want %q", in, err, want)
		}
	}
}

func TestTargetStringRoundTrip(t *testing.T) {
	for _, in := range []string{"host:", "alice@host:/x", "a@b@host:d", "[::1]:/srv", "u@[fe80::1%eth0]:"} {
		target, err := parseTarget(in)
		if err != nil {
			t.Fatalf("parseTarget(%q): %v", in, err)
		}
		if got := target.String(); got != in {
			t.Errorf("parseTarget(%q).String() = %q", in, got)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, seed := range []string{
		"host:", "alice@host:/x", "a@b@host:d", "[::1]:/srv", "user@[fe80::1]:dir",
		"[::1", "@host:", "host", "[a]b:/x", "u[:]@h:d",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		target, err := parseTarget(in)
		if err != nil {
			return
		}
		if target.Host == "" {
			t.Fatalf("parseTarget(%q) returned an empty host", in)
		}
		if strings.ContainsAny(target.Host, "[]@/") {
			t.Fatalf("parseTarget(%q) returned host %q with a reserved character", in, target.Host)
		}
		again, err := parseTarget(target.String())
		if err != nil {
			t.Fatalf("parseTarget(%q) = %+v, but its String %q does not parse: %v", in, target, target.String(), err)
		}
		if again != target {
			t.Fatalf("round trip of %q: got %+v, want %+v", in, again, target)
		}
	})
}

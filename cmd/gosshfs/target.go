package main

import (
	"fmt"
	"strings"
)

// remoteTarget is the parsed [user@]host:[dir] argument.
type remoteTarget struct {
	User string // "" when the argument has no user@ part
	Host string // host name, alias or IP address, without IPv6 brackets
	Dir  string // remote directory as typed; "" is the remote home
}

// parseTarget parses [user@]host:[dir]. The host/dir separator is the first
// colon outside square brackets, so IPv6 addresses are written as [::1]:dir.
// The user ends at the last '@' before the host, so a user name may itself
// contain '@'. The directory is taken verbatim and may contain ':' and '@'.
func parseTarget(s string) (remoteTarget, error) {
	invalid := fmt.Errorf("invalid remote %q: expected [user@]host:[dir]", s)

	separator := hostSeparator(s)
	if separator < 0 {
		return remoteTarget{}, invalid
	}
	login, dir := s[:separator], s[separator+1:]

	var t remoteTarget
	host := login
	if at := strings.LastIndexByte(login, '@'); at >= 0 {
		t.User, host = login[:at], login[at+1:]
		if t.User == "" {
			return remoteTarget{}, invalid
		}
	}

	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if !validHost(host) {
		return remoteTarget{}, invalid
	}
	t.Host = host
	t.Dir = dir
	return t, nil
}

// hostSeparator returns the index of the first ':' outside square brackets,
// or -1 when there is none or a bracket before it is unbalanced.
func hostSeparator(s string) int {
	inBrackets := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			if inBrackets {
				return -1
			}
			inBrackets = true
		case ']':
			if !inBrackets {
				return -1
			}
			inBrackets = false
		case ':':
			if !inBrackets {
				return i
			}
		}
	}
	return -1
}

// validHost rejects empty hosts and characters that cannot appear in a host
// name, alias or address: brackets left over from a malformed IPv6 form,
// path separators, '@', white space and control characters.
func validHost(host string) bool {
	if host == "" {
		return false
	}
	for _, r := range host {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("[]/@", r) {
			return false
		}
	}
	return true
}

// String formats t so that parseTarget returns t again.
func (t remoteTarget) String() string {
	var b strings.Builder
	if t.User != "" {
		b.WriteString(t.User)
		b.WriteByte('@')
	}
	if strings.Contains(t.Host, ":") {
		b.WriteString("[" + t.Host + "]")
	} else {
		b.WriteString(t.Host)
	}
	b.WriteByte(':')
	b.WriteString(t.Dir)
	return b.String()
}

package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestDialErrorMessages(t *testing.T) {
	home := setupHome(t)
	key := newSigner(t).PublicKey()
	cases := []struct {
		err  *DialError
		want string
	}{
		{
			&DialError{Kind: KindUnknownHost, Host: "nohost.invalid", Port: 22},
			`cannot resolve host "nohost.invalid": check the name, or its HostName in ~/.ssh/config`,
		},
		{
			&DialError{Kind: KindConnectionRefused, Host: "127.0.0.1", Port: 1},
			"connection to 127.0.0.1 port 1 refused: check that an SSH server listens there and that the port (-p) is right",
		},
		{
			&DialError{Kind: KindTimedOut, Host: "10.1.2.3", Port: 22, Timeout: 10 * time.Second},
			"connection to 10.1.2.3 port 22 timed out after 10s: check the address and firewall, or raise -o ConnectTimeout",
		},
		{
			&DialError{Kind: KindNetworkUnreachable, Host: "10.1.2.3", Port: 22, Err: syscall.ENETUNREACH},
			"cannot reach 10.1.2.3 port 22 (network is unreachable): check the address and the network connection",
		},
		{
			&DialError{Kind: KindAuthFailed, Host: "127.0.0.1", Port: 2222, User: "root", Methods: []string{"publickey"}},
			`authentication as "root" on 127.0.0.1 port 2222 failed (tried publickey): check -o IdentityFile, ssh-agent or the user name`,
		},
		{
			&DialError{Kind: KindAuthFailed, Host: "h", Port: 22, User: "u", Methods: []string{"publickey", "password"}},
			`authentication as "u" on h port 22 failed (tried publickey, password): check the password, -o IdentityFile, ssh-agent or the user name`,
		},
		{
			&DialError{Kind: KindHostKeyUnknown, Host: "h.example", Port: 22, HostKey: key, KnownHostsName: "h.example",
				KnownHostsFile: filepath.Join(home, ".ssh", "known_hosts")},
			"host key of h.example is unknown (ED25519 " + ssh.FingerprintSHA256(key) + "): verify the fingerprint, then add it with " +
				"'ssh-keyscan h.example >> ~/.ssh/known_hosts' or mount once with -o StrictHostKeyChecking=accept-new",
		},
		{
			&DialError{Kind: KindHostKeyChanged, Host: "h.example", Port: 22, HostKey: key, KnownHostsName: "h.example",
				KnownHostsFile: filepath.Join(home, ".ssh", "known_hosts"), KnownHostsLine: 7},
			"WARNING: the host key of h.example has CHANGED (now ED25519 " + ssh.FingerprintSHA256(key) + ", known_hosts line " +
				filepath.Join(home, ".ssh", "known_hosts") + ":7 has another): someone may be intercepting the connection; " +
				`if the server's key really changed, remove the old line with 'ssh-keygen -R "h.example"'`,
		},
		{
			&DialError{Kind: KindHandshakeFailed, Host: "h", Port: 80, Err: errors.New("ssh: overflow\nreading version")},
			"SSH handshake with h port 80 failed (ssh: overflow reading version): check that the port (-p) belongs to an SSH server",
		},
	}
	for _, tc := range cases {
		t.Run(tc.err.Kind.String(), func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("message:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestIsPermanent(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&DialError{Kind: KindAuthFailed}, true},
		{&DialError{Kind: KindHostKeyUnknown}, true},
		{&DialError{Kind: KindHostKeyChanged}, true},
		{&DialError{Kind: KindHostKeyRevoked}, true},
		{fmt.Errorf("reconnect: %w", &DialError{Kind: KindHostKeyChanged}), true},
		{&DialError{Kind: KindUnknownHost}, false},
		{&DialError{Kind: KindConnectionRefused}, false},
		{&DialError{Kind: KindTimedOut}, false},
		{&DialError{Kind: KindNetworkUnreachable}, false},
		{&DialError{Kind: KindHandshakeFailed}, false},
		{context.Canceled, false},
		{errors.New("other"), false},
		{nil, false},
	}
	for _, tc := range cases {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestClassifyConnectError(t *testing.T) {
	background := context.Background()
	cases := []struct {
		name string
		err  error
		want DialErrorKind
	}{
		{"dns", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, KindUnknownHost},
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, KindConnectionRefused},
		{"net unreachable", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}, KindNetworkUnreachable},
		{"host unreachable", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, KindNetworkUnreachable},
		{"timeout", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, KindTimedOut},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classifyConnectError(background, tc.err, "h", 22, time.Second)
			var de *DialError
			if !errors.As(err, &de) || de.Kind != tc.want {
				t.Fatalf("classifyConnectError = %v, want kind %v", err, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Error("the DialError does not wrap the cause")
			}
		})
	}

	other := &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EACCES)}
	if err := classifyConnectError(background, other, "h", 22, time.Second); !errors.Is(err, syscall.EACCES) {
		t.Errorf("unclassified error = %v, want it wrapped", err)
	}
	cancelled, cancel := context.WithCancel(background)
	cancel()
	err := classifyConnectError(cancelled, &net.OpError{Op: "dial", Err: context.Canceled}, "h", 22, time.Second)
	var de *DialError
	if errors.As(err, &de) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled dial = %v, want a plain error wrapping context.Canceled", err)
	}
}

func TestDialErrorKindString(t *testing.T) {
	if got := KindHostKeyChanged.String(); got != "host key changed" {
		t.Errorf("String() = %q", got)
	}
	if got := DialErrorKind(99).String(); got != "DialErrorKind(99)" {
		t.Errorf("String() of an unknown kind = %q", got)
	}
}

package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// DialErrorKind classifies why Dial failed.
type DialErrorKind int

const (
	// KindUnknownHost means the host name did not resolve.
	KindUnknownHost DialErrorKind = iota + 1
	// KindConnectionRefused means nothing listens on the port.
	KindConnectionRefused
	// KindTimedOut means the TCP connect or the SSH handshake exceeded
	// ConnectTimeout.
	KindTimedOut
	// KindNetworkUnreachable means the kernel has no route to the address.
	KindNetworkUnreachable
	// KindAuthFailed means the server rejected every authentication method.
	KindAuthFailed
	// KindHostKeyUnknown means no known_hosts file lists a key for the host.
	KindHostKeyUnknown
	// KindHostKeyChanged means the known_hosts files list other keys for the
	// host than the one the server presented.
	KindHostKeyChanged
	// KindHostKeyRevoked means a known_hosts file marks the server's key
	// as @revoked.
	KindHostKeyRevoked
	// KindHandshakeFailed means the SSH protocol exchange failed for another
	// reason, for example because the port belongs to another service.
	KindHandshakeFailed
	// KindForwardingFailed means a jump host rejected or could not open the
	// connection to the next host.
	KindForwardingFailed
)

var kindNames = map[DialErrorKind]string{
	KindUnknownHost:        "unknown host",
	KindConnectionRefused:  "connection refused",
	KindTimedOut:           "timed out",
	KindNetworkUnreachable: "network unreachable",
	KindAuthFailed:         "authentication failed",
	KindHostKeyUnknown:     "host key unknown",
	KindHostKeyChanged:     "host key changed",
	KindHostKeyRevoked:     "host key revoked",
	KindHandshakeFailed:    "handshake failed",
	KindForwardingFailed:   "forwarding failed",
}

func (k DialErrorKind) String() string {
	if name, ok := kindNames[k]; ok {
		return name
	}
	return "DialErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// DialError is the error Dial returns for a failed connection attempt. Its
// message is one line that names the host and the next step for the user.
// Err is the underlying cause, so errors.Is(err, syscall.ECONNREFUSED) and
// similar checks work through it.
type DialError struct {
	Kind DialErrorKind
	// Host and Port are the resolved HostName and port that were dialled.
	Host string
	Port int
	// User is the remote login name, set for KindAuthFailed.
	User string
	// Timeout is the ConnectTimeout that expired, set for KindTimedOut.
	Timeout time.Duration
	// Methods lists the authentication methods that were tried, set for
	// KindAuthFailed.
	Methods []string
	// HostKey is the key the server presented, set for the host key kinds.
	HostKey ssh.PublicKey
	// KnownHostsName is the host as known_hosts spells it ("host" or
	// "[host]:port"), set for the host key kinds.
	KnownHostsName string
	// KnownHostsFile is the file to add the key to (KindHostKeyUnknown) or
	// the file containing the conflicting line (KindHostKeyChanged,
	// KindHostKeyRevoked). KnownHostsLine is that line's number.
	KnownHostsFile string
	KnownHostsLine int
	// Via is the jump host, as user@host:port, that failed to open the
	// connection, set for KindForwardingFailed.
	Via string
	// Hop is "" when the failure concerns the server that serves SFTP, and
	// names the jump host otherwise, for example "jump host 1 of 2".
	Hop string
	Err error
}

func (e *DialError) Unwrap() error { return e.Err }

func (e *DialError) Error() string {
	if e.Hop != "" {
		return e.Hop + ": " + e.message()
	}
	return e.message()
}

// portHint names where the user sets the port that was dialled.
func (e *DialError) portHint() string {
	if e.Hop != "" {
		return "the port in ProxyJump or ssh_config"
	}
	return "the port (-p)"
}

func (e *DialError) message() string {
	where := e.Host + " port " + strconv.Itoa(e.Port)
	switch e.Kind {
	case KindUnknownHost:
		return fmt.Sprintf("cannot resolve host %q: check the name, or its HostName in ~/.ssh/config", e.Host)
	case KindConnectionRefused:
		return fmt.Sprintf("connection to %s refused: check that an SSH server listens there and that %s is right", where, e.portHint())
	case KindTimedOut:
		return fmt.Sprintf("connection to %s timed out after %v: check the address and firewall, or raise -o ConnectTimeout", where, e.Timeout)
	case KindNetworkUnreachable:
		return fmt.Sprintf("cannot reach %s (%s): check the address and the network connection", where, causeText(e.Err))
	case KindAuthFailed:
		return e.authFailedMessage(where)
	case KindHostKeyUnknown:
		return e.hostKeyUnknownMessage()
	case KindHostKeyChanged:
		return e.hostKeyChangedMessage()
	case KindHostKeyRevoked:
		return fmt.Sprintf("host key of %s (%s) is marked @revoked in %s:%d: the server must not be trusted with this key",
			e.KnownHostsName, describeKey(e.HostKey), e.KnownHostsFile, e.KnownHostsLine)
	case KindHandshakeFailed:
		return fmt.Sprintf("SSH handshake with %s failed (%s): check that %s belongs to an SSH server", where, causeText(e.Err), e.portHint())
	case KindForwardingFailed:
		return fmt.Sprintf("jump host %s could not connect to %s (%s): check the host name and port after the jump, "+
			"and that the jump host allows TCP forwarding (AllowTcpForwarding in its sshd_config)", e.Via, where, causeText(e.Err))
	}
	return fmt.Sprintf("connection to %s failed: %s", where, causeText(e.Err))
}

func (e *DialError) authFailedMessage(where string) string {
	tried := "no key, ssh-agent or password was available"
	var inputErr *authInputError
	if errors.As(e.Err, &inputErr) {
		tried = inputErr.reason
	}
	if len(e.Methods) > 0 {
		tried = "tried " + strings.Join(e.Methods, ", ")
	}
	hint := "check -o IdentityFile, ssh-agent or the user name"
	for _, m := range e.Methods {
		if m == "password" || m == "keyboard-interactive" {
			hint = "check the password, -o IdentityFile, ssh-agent or the user name"
		}
	}
	return fmt.Sprintf("authentication as %q on %s failed (%s): %s", e.User, where, tried, hint)
}

func (e *DialError) hostKeyUnknownMessage() string {
	scan := "ssh-keyscan "
	if e.Port != 22 {
		scan += "-p " + strconv.Itoa(e.Port) + " "
	}
	scan += e.Host + " >> " + displayPath(e.KnownHostsFile)
	return fmt.Sprintf("host key of %s is unknown (%s): verify the fingerprint, then add it with '%s' or mount once with -o StrictHostKeyChecking=accept-new",
		e.KnownHostsName, describeKey(e.HostKey), scan)
}

func (e *DialError) hostKeyChangedMessage() string {
	remove := `ssh-keygen -R "` + e.KnownHostsName + `"`
	if e.KnownHostsFile != defaultKnownHostsFile() {
		remove += ` -f "` + e.KnownHostsFile + `"`
	}
	return fmt.Sprintf("WARNING: the host key of %s has CHANGED (now %s, known_hosts line %s:%d has another): "+
		"someone may be intercepting the connection; if the server's key really changed, remove the old line with '%s'",
		e.KnownHostsName, describeKey(e.HostKey), e.KnownHostsFile, e.KnownHostsLine, remove)
}

// IsPermanent reports whether retrying the dial cannot help without the
// user's action: a rejected authentication or a host key that is unknown,
// changed or revoked. Network errors are not permanent.
func IsPermanent(err error) bool {
	var de *DialError
	if !errors.As(err, &de) {
		return false
	}
	switch de.Kind {
	case KindAuthFailed, KindHostKeyUnknown, KindHostKeyChanged, KindHostKeyRevoked:
		return true
	}
	return false
}

// classifyConnectError turns a failed TCP connect into a *DialError, or
// returns the context's error when ctx ended the attempt.
func classifyConnectError(ctx context.Context, err error, host string, port int, timeout time.Duration) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
		return fmt.Errorf("remote: connect to %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}

	de := &DialError{Host: host, Port: port, Timeout: timeout, Err: err}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		de.Kind = KindUnknownHost
	case errors.Is(err, syscall.ECONNREFUSED):
		de.Kind = KindConnectionRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		de.Kind = KindNetworkUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		de.Kind = KindTimedOut
	default:
		return fmt.Errorf("remote: connect to %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	return de
}

// causeText returns err's message on one line.
func causeText(err error) string {
	if err == nil {
		return "no cause recorded"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// describeKey formats a key as OpenSSH prints it in prompts, for example
// "ED25519 SHA256:...".
func describeKey(key ssh.PublicKey) string {
	if key == nil {
		return "no key"
	}
	return keyTypeName(key.Type()) + " " + ssh.FingerprintSHA256(key)
}

func keyTypeName(keyType string) string {
	switch {
	case keyType == ssh.KeyAlgoED25519:
		return "ED25519"
	case keyType == ssh.KeyAlgoSKED25519:
		return "ED25519-SK"
	case keyType == ssh.KeyAlgoSKECDSA256:
		return "ECDSA-SK"
	case strings.HasPrefix(keyType, "ecdsa-sha2-"):
		return "ECDSA"
	case keyType == ssh.KeyAlgoRSA:
		return "RSA"
	case keyType == "ssh-dss":
		return "DSA"
	}
	return keyType
}

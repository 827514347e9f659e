package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// notifySocketEnv names the service manager's notification socket. systemd
// sets it for units with Type=notify (sd_notify(3)).
const notifySocketEnv = "NOTIFY_SOCKET"

// notifier sends readiness and shutdown messages to the service manager:
// each message is one datagram of newline-separated VARIABLE=value lines
// on a unix datagram socket. A nil notifier sends nothing.
type notifier struct {
	addr *net.UnixAddr
}

// notifierFromEnv returns a notifier for $NOTIFY_SOCKET, or nil when it is
// unset. It removes the variable from the environment so that programs
// gosshfs starts, such as fusermount3, do not send messages in its name.
// Only absolute paths and abstract names (a leading '@') are supported;
// systemd's vsock: addresses are not.
func notifierFromEnv() (*notifier, error) {
	value, ok := os.LookupEnv(notifySocketEnv)
	if !ok || value == "" {
		return nil, nil
	}
	os.Unsetenv(notifySocketEnv)
	return newNotifier(value)
}

func newNotifier(address string) (*notifier, error) {
	if !strings.HasPrefix(address, "/") && !strings.HasPrefix(address, "@") {
		return nil, fmt.Errorf("unsupported %s=%q: expected an absolute path or an abstract name starting with @",
			notifySocketEnv, address)
	}
	// Go's net package turns a leading '@' into the NUL byte that starts
	// an abstract socket name on Linux.
	return &notifier{addr: &net.UnixAddr{Name: address, Net: "unixgram"}}, nil
}

// send sends one message made of lines such as "READY=1".
func (n *notifier) send(lines ...string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("connect to the service manager's socket %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("send %q to the service manager's socket %s: %w", lines[0], n.addr.Name, err)
	}
	return nil
}

// ready notifies the service manager that the mount works and that this
// process serves it. MAINPID matters for a detached daemon, which is not
// the process the service manager started.
func (n *notifier) ready(status string) error {
	return n.send("READY=1", "MAINPID="+strconv.Itoa(os.Getpid()), "STATUS="+status)
}

// stopping notifies the service manager that the mount is shutting down.
func (n *notifier) stopping(status string) error {
	return n.send("STOPPING=1", "STATUS="+status)
}

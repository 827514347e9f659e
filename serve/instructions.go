package serve

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// instructions are the facts a user needs to connect to the server.
type instructions struct {
	dir        string
	host       string
	port       int
	clientKey  string // generated client key, or "" with an authorized_keys file
	knownHosts string
	authorized string // authorized_keys file, or "" with a generated key
	command    string // how to call gosshfs in the printed mount command
}

// printInstructions writes the mount command and an OpenSSH sftp command
// that connect to the server with strict host key checking.
func printInstructions(w io.Writer, in instructions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "gosshfs serve: serving %s on %s\n", in.dir, net.JoinHostPort(in.host, strconv.Itoa(in.port)))
	if in.clientKey != "" {
		fmt.Fprintf(&b, "Client key: %s\n", in.clientKey)
	} else {
		fmt.Fprintf(&b, "Accepting the keys in %s\n", in.authorized)
	}

	port := strconv.Itoa(in.port)
	knownHosts := "UserKnownHostsFile=" + shellQuote(in.knownHosts)
	host := in.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}

	mount := []string{in.command, "-p", port}
	browse := []string{"sftp", "-P", port}
	if in.clientKey != "" {
		mount = append(mount, "-o", "IdentityFile="+shellQuote(in.clientKey))
		browse = append(browse, "-i", shellQuote(in.clientKey))
	}
	mount = append(mount, "-o", knownHosts, host+":/", "./mnt")
	browse = append(browse, "-o", knownHosts, host)

	fmt.Fprintf(&b, "Mount with:\n  %s\n", strings.Join(mount, " "))
	fmt.Fprintf(&b, "Browse with OpenSSH:\n  %s\n", strings.Join(browse, " "))

	_, err := io.WriteString(w, b.String())
	return err
}

// shellQuote returns s quoted for a POSIX shell when it contains characters
// the shell would interpret.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("@%+=:,./_-", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

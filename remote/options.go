package remote

import (
	"io"
	"log/slog"
	"time"
)

// Options are the connection settings given on the command line. Empty or
// zero fields are filled from the ssh_config file and then from OpenSSH's
// defaults, so a value given here always wins over the config file.
type Options struct {
	// Host is the host name, address or ~/.ssh/config alias as the user typed
	// it (without brackets for IPv6).
	Host string
	// Port is the TCP port; 0 means the config file's Port or 22.
	Port int
	// User is the remote login name; "" means the config file's User or the
	// local user name.
	User string
	// ConfigFile is the ssh_config path (-F); "" means ~/.ssh/config, and
	// "none" disables config parsing as in ssh(1).
	ConfigFile string
	// IdentityFiles are private key paths tried in order before the defaults.
	IdentityFiles []string
	// KnownHostsFiles are the known_hosts paths (UserKnownHostsFile);
	// nil means the config file's value or ~/.ssh/known_hosts.
	KnownHostsFiles []string
	// StrictHostKeyChecking is "yes", "accept-new" or "no"; "" means the
	// config file's value or "yes".
	StrictHostKeyChecking string
	// ConnectTimeout bounds the TCP connect and SSH handshake; 0 means the
	// config file's value or 30 s.
	ConnectTimeout time.Duration
	// ServerAliveInterval is the keepalive period; 0 means the config
	// file's value or 15 s.
	ServerAliveInterval time.Duration
	// ServerAliveCountMax is how many keepalives may go unanswered before the
	// connection is closed; 0 means the config file's value or 3.
	ServerAliveCountMax int
	// IdentitiesOnly is "yes" to offer only the keys of the identity files,
	// also from ssh-agent, or "no". "" means the config file's value or "no".
	IdentitiesOnly string
	// ProxyJump lists jump hosts as ssh -J does: "[user@]host[:port]"
	// entries separated by commas, dialled in order. "none" disables a
	// ProxyJump or ProxyCommand of the config file. At most one of
	// ProxyJump and ProxyCommand may be set.
	ProxyJump string
	// ProxyCommand is a command run with /bin/sh -c whose standard input
	// and output carry the SSH connection, with the tokens %h, %p, %r, %n
	// and %% expanded. "none" disables the config file's proxy settings.
	ProxyCommand string
	// PasswordStdin reads the password from Stdin instead of a terminal.
	PasswordStdin bool
	// Stdin is where PasswordStdin reads from; nil means os.Stdin.
	Stdin io.Reader
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

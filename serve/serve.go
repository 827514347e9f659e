// Package serve runs a small SSH server that offers only the "sftp"
// subsystem, for one directory. It is the embedded server behind
// `gosshfs serve DIR`: a way to try gosshfs without sshd and to share a
// directory quickly.
//
// # Confinement
//
// Clients see Options.Dir as "/". Every path is resolved through one
// os.Root opened on Dir, so "..", absolute paths and symbolic links that
// lead outside Dir (including symlinked parent directories) fail. os.Root
// also rejects absolute link targets, even ones that point back into Dir.
// Creating a symbolic link stores the target text unchanged, because only
// following a link can leave the root.
//
// # Authentication
//
// Only public-key authentication is accepted, for the keys in
// Options.AuthorizedKeys or, when that is empty, for a client key that Run
// generates once in Options.StateDir. The user name is ignored. The host key
// is generated once and reused, and Run writes a known_hosts file for the
// address it listens on.
//
// # Concurrency
//
// Run accepts connections on its own goroutine and serves each connection
// and each SFTP session on another. All of them share the os.Root, which is
// safe for concurrent use. pkg/sftp runs read and write requests of one
// session on several goroutines and every other request on a single one.
// Cancelling the context closes the listener and every connection, and Run
// waits for all of these goroutines before it returns.
//
// # Errors
//
// ENOENT is sent as SSH_FX_NO_SUCH_FILE, EACCES and EPERM as
// SSH_FX_PERMISSION_DENIED, and any other error as SSH_FX_FAILURE. The
// status message names the client's path, never the path on the server.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
)

// DefaultListen is the address Run binds when Options.Listen is empty.
const DefaultListen = "127.0.0.1:2222"

// Options configure Run. The zero value of each field, except Dir, selects
// its default.
type Options struct {
	// Dir is the directory served; clients can reach nothing outside it.
	Dir string
	// Listen is the TCP address; "" means 127.0.0.1:2222. Run logs a warning
	// when the address is not a loopback address.
	Listen string
	// AuthorizedKeys is an OpenSSH authorized_keys file, read once when Run
	// starts. Key options such as from= or command= are ignored. "" means a
	// generated client key whose path Run prints.
	AuthorizedKeys string
	// StateDir keeps the host key, any generated client key and the
	// known_hosts file; "" means $XDG_CONFIG_HOME/gosshfs/serve (or
	// ~/.config/gosshfs/serve). Run creates it with mode 0700.
	StateDir string
	// Command is the program name or path the printed mount command starts
	// with; "" means "gosshfs".
	Command string
	// Logger receives connection and error logs; nil discards them.
	Logger *slog.Logger
	// Stdout receives the instructions for connecting; nil means os.Stdout.
	Stdout io.Writer
	// Ready, if set, is called with the bound address before Run accepts
	// the first connection. It is useful with a Listen port of 0.
	Ready func(addr net.Addr)
}

// Run serves Dir until ctx is cancelled, then closes every connection and
// returns nil. It returns an error when Dir or StateDir cannot be used, the
// keys cannot be loaded or created, or the address cannot be bound.
func Run(ctx context.Context, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	log := o.Logger

	root, err := os.OpenRoot(o.Dir)
	if err != nil {
		return fmt.Errorf("serve: open the directory to serve: %w", err)
	}
	defer root.Close()

	keys, err := loadKeys(o, log)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("serve: %w (choose another address with --listen)", err)
	}
	defer ln.Close()
	if !isLoopback(ln.Addr()) {
		log.Warn("listening on a non-loopback address, so other machines can connect", "addr", ln.Addr().String())
	}

	host, port := connectAddress(ln.Addr())
	knownHosts, err := writeKnownHosts(o.StateDir, host, port, keys.host.PublicKey())
	if err != nil {
		return err
	}
	command := o.Command
	if command == "" {
		command = "gosshfs"
	}
	err = printInstructions(o.Stdout, instructions{
		command:    command,
		dir:        o.Dir,
		host:       host,
		port:       port,
		clientKey:  keys.clientKeyPath,
		knownHosts: knownHosts,
		authorized: o.AuthorizedKeys,
	})
	if err != nil {
		log.Warn("write connection instructions failed", "err", err)
	}

	s := newServer(root, keys, log)
	log.Info("serving directory", "dir", o.Dir, "addr", ln.Addr().String(),
		"host_key", fingerprint(keys.host.PublicKey()), "authorized_keys", len(keys.authorized))
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	err = s.serve(ctx, ln)
	log.Info("server stopped", "addr", ln.Addr().String())
	return err
}

// withDefaults fills in the defaults and makes Dir and StateDir absolute,
// so the printed instructions work from any directory.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("serve: missing directory to serve")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.StateDir == "" {
		config, err := os.UserConfigDir()
		if err != nil {
			return o, fmt.Errorf("serve: find the default state directory: %w (set it with --state-dir)", err)
		}
		o.StateDir = filepath.Join(config, "gosshfs", "serve")
	}

	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return o, fmt.Errorf("serve: directory %s: %w", o.Dir, err)
	}
	if o.StateDir, err = filepath.Abs(o.StateDir); err != nil {
		return o, fmt.Errorf("serve: state directory %s: %w", o.StateDir, err)
	}
	return o, nil
}

// isLoopback reports whether addr only accepts connections from this host.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// connectAddress returns the host and port a local client dials to reach
// the listener. An unspecified listen address (0.0.0.0 or ::) is reached
// through 127.0.0.1.
func connectAddress(addr net.Addr) (host string, port int) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "127.0.0.1", 0
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return "127.0.0.1", tcp.Port
	}
	return tcp.IP.String(), tcp.Port
}

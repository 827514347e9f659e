package serve

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// File names inside Options.StateDir.
const (
	hostKeyName    = "host_ed25519"
	clientKeyName  = "client_ed25519"
	knownHostsName = "known_hosts"
)

// serverKeys are the host key and the public keys allowed to log in.
type serverKeys struct {
	host ssh.Signer
	// authorized is keyed by the SSH wire encoding of each public key.
	authorized map[string]struct{}
	// clientKeyPath is the generated client key, or "" when the keys come
	// from an authorized_keys file.
	clientKeyPath string
}

// loadKeys prepares the state directory, loads or creates the host key and
// collects the authorized keys.
func loadKeys(o Options, log *slog.Logger) (*serverKeys, error) {
	if err := prepareStateDir(o.StateDir, log); err != nil {
		return nil, err
	}

	hostPath := filepath.Join(o.StateDir, hostKeyName)
	host, created, err := loadOrCreateKey(hostPath, "gosshfs-serve-host", log)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created host key", "path", hostPath, "fingerprint", fingerprint(host.PublicKey()))
	}
	keys := &serverKeys{host: host}

	if o.AuthorizedKeys != "" {
		keys.authorized, err = readAuthorizedKeys(o.AuthorizedKeys, log)
		return keys, err
	}

	clientPath := filepath.Join(o.StateDir, clientKeyName)
	client, created, err := loadOrCreateKey(clientPath, "gosshfs-serve-client", log)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created client key", "path", clientPath, "fingerprint", fingerprint(client.PublicKey()))
	}
	if err := writePublicKey(clientPath+".pub", client.PublicKey(), "gosshfs-serve-client"); err != nil {
		return nil, err
	}
	keys.authorized = map[string]struct{}{string(client.PublicKey().Marshal()): {}}
	keys.clientKeyPath = clientPath
	return keys, nil
}

// prepareStateDir creates dir with mode 0700 and warns when an existing
// directory is open to other users, who could then replace the keys.
func prepareStateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("serve: create state directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("serve: state directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("serve: state directory %s is not a directory", dir)
	}
	if info.Mode().Perm()&0o077 != 0 {
		log.Warn("state directory is accessible to other users; run chmod 700 on it",
			"dir", dir, "mode", fmt.Sprintf("%#o", info.Mode().Perm()))
	}
	return nil
}

// loadOrCreateKey reads the OpenSSH private key at path, or generates an
// ed25519 key and stores it there with mode 0600 when the file is missing.
func loadOrCreateKey(path, comment string, log *slog.Logger) (signer ssh.Signer, created bool, err error) {
	signer, err = readPrivateKey(path, log)
	if !errors.Is(err, fs.ErrNotExist) {
		return signer, false, err
	}

	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("serve: generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(private, comment)
	if err != nil {
		return nil, false, fmt.Errorf("serve: encode key: %w", err)
	}
	err = createFile(path, pem.EncodeToMemory(block), 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another Run created the key after readPrivateKey looked; use it.
		signer, err = readPrivateKey(path, log)
		return signer, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("serve: store key: %w", err)
	}

	signer, err = ssh.NewSignerFromKey(private)
	if err != nil {
		return nil, false, fmt.Errorf("serve: use key %s: %w", path, err)
	}
	return signer, true, nil
}

// readPrivateKey parses the OpenSSH private key at path. A missing file
// yields an error that matches fs.ErrNotExist.
func readPrivateKey(path string, log *slog.Logger) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve: read key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("serve: parse key %s: %w (move the file away to generate a new key)", path, err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		log.Warn("private key file is accessible to other users; run chmod 600 on it",
			"path", path, "mode", fmt.Sprintf("%#o", info.Mode().Perm()))
	}
	return signer, nil
}

// writePublicKey stores pub in authorized_keys format at path unless the
// file already contains exactly that line.
func writePublicKey(path string, pub ssh.PublicKey, comment string) error {
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n") + " " + comment + "\n"
	if current, err := os.ReadFile(path); err == nil && string(current) == line {
		return nil
	}
	if err := replaceFile(path, []byte(line), 0o644); err != nil {
		return fmt.Errorf("serve: store public key: %w", err)
	}
	return nil
}

// readAuthorizedKeys returns the public keys listed in an OpenSSH
// authorized_keys file, keyed by their wire encoding.
func readAuthorizedKeys(path string, log *slog.Logger) (map[string]struct{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve: read authorized keys: %w", err)
	}

	keys := make(map[string]struct{})
	withOptions := 0
	for rest := data; len(rest) > 0; {
		// ParseAuthorizedKey (x/crypto v0.59.0) skips blank, comment and
		// invalid lines, and fails only when no key is left.
		pub, _, options, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			break
		}
		keys[string(pub.Marshal())] = struct{}{}
		if len(options) > 0 {
			withOptions++
		}
		rest = next
	}

	if len(keys) == 0 {
		return nil, fmt.Errorf("serve: no public key found in %s (expected authorized_keys lines such as \"ssh-ed25519 AAAA... comment\")", path)
	}
	if withOptions > 0 {
		log.Warn("authorized_keys options (from=, command=, ...) are not supported and are ignored",
			"file", path, "keys_with_options", withOptions)
	}
	return keys, nil
}

// writeKnownHosts records the host key for host:port in the known_hosts
// file of stateDir and returns the file's path. Lines for other addresses
// are kept, so servers on several ports can share one state directory.
func writeKnownHosts(stateDir, host string, port int, pub ssh.PublicKey) (string, error) {
	path := filepath.Join(stateDir, knownHostsName)
	address := knownhosts.Normalize(net.JoinHostPort(host, strconv.Itoa(port)))

	var out bytes.Buffer
	current, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("serve: read known hosts: %w", err)
	}
	for line := range strings.Lines(string(current)) {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == address {
			continue
		}
		out.WriteString(line)
	}
	out.WriteString(knownhosts.Line([]string{address}, pub) + "\n")

	if err := replaceFile(path, out.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("serve: store known hosts: %w", err)
	}
	return path, nil
}

// createFile stores data at path, failing with an error that matches
// fs.ErrExist when path exists. The file appears complete or not at all.
func createFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Link(tmp, path)
}

// replaceFile stores data at path, replacing any existing file atomically.
func replaceFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeTemp writes data to a new temporary file next to path and returns
// the temporary file's name.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// fingerprint returns the OpenSSH SHA256 fingerprint of pub.
func fingerprint(pub ssh.PublicKey) string {
	return ssh.FingerprintSHA256(pub)
}

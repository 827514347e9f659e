package remote

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestHostKeyUnknownRejected(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	writeFile(t, c.knownHosts, "")

	_, err := dial(t, o)

	de := requireDialError(t, err, KindHostKeyUnknown)
	if !IsPermanent(err) {
		t.Error("IsPermanent = false for an unknown host key")
	}
	port := strconv.Itoa(server.port)
	fingerprint := ssh.FingerprintSHA256(server.hostSigner.PublicKey())
	want := "host key of [127.0.0.1]:" + port + " is unknown (ED25519 " + fingerprint + "): verify the fingerprint, " +
		"then add it with 'ssh-keyscan -p " + port + " 127.0.0.1 >> ~/known_hosts' or mount once with -o StrictHostKeyChecking=accept-new"
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
	if de.HostKey == nil || ssh.FingerprintSHA256(de.HostKey) != fingerprint {
		t.Errorf("DialError.HostKey = %v, want the server's key", de.HostKey)
	}
}

func TestHostKeyMissingFileRejected(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	o.KnownHostsFiles = nil // ~/.ssh/known_hosts, which does not exist

	_, err := dial(t, o)

	requireDialError(t, err, KindHostKeyUnknown)
	if !strings.Contains(err.Error(), ">> ~/.ssh/known_hosts'") {
		t.Errorf("message does not name ~/.ssh/known_hosts: %v", err)
	}
}

func TestHostKeyAcceptNew(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	o.KnownHostsFiles = nil
	o.StrictHostKeyChecking = "accept-new"

	if _, err := dial(t, o); err != nil {
		t.Fatalf("first Dial: %v", err)
	}

	sshDir := filepath.Join(c.home, ".ssh")
	file := filepath.Join(sshDir, "known_hosts")
	if info, err := os.Stat(sshDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("~/.ssh: %v, mode %v, want 0700", err, info.Mode().Perm())
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode = %v, want 0600", info.Mode().Perm())
	}
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	wantLine := "[127.0.0.1]:" + strconv.Itoa(server.port) + " ssh-ed25519 "
	if !strings.HasPrefix(string(content), wantLine) || strings.Count(string(content), "\n") != 1 {
		t.Errorf("known_hosts = %q, want one line starting %q", content, wantLine)
	}
	if !strings.Contains(c.logs.String(), "added new host key") ||
		!strings.Contains(c.logs.String(), ssh.FingerprintSHA256(server.hostSigner.PublicKey())) {
		t.Errorf("the log does not report the added key with its fingerprint:\n%s", c.logs)
	}

	o.StrictHostKeyChecking = "yes"
	if _, err := dial(t, o); err != nil {
		t.Fatalf("second Dial with the added key: %v", err)
	}
	content2, _ := os.ReadFile(file)
	if string(content2) != string(content) {
		t.Errorf("second Dial changed known_hosts to %q", content2)
	}
}

func TestHostKeyAcceptNewAddsNewline(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	other := knownhosts.Line([]string{"other.example"}, newSigner(t).PublicKey())
	writeFile(t, c.knownHosts, other) // no trailing newline
	o.StrictHostKeyChecking = "accept-new"

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial: %v", err)
	}

	content, _ := os.ReadFile(c.knownHosts)
	lines := strings.Split(strings.TrimSuffix(string(content), "\n"), "\n")
	if len(lines) != 2 || lines[0] != other {
		t.Errorf("known_hosts = %q, want the old line and the new one", content)
	}
}

func TestHostKeyHashedEntry(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	line := server.knownHostsLine()
	hostField, keyFields, _ := strings.Cut(line, " ")
	hashed := knownhosts.HashHostname(hostField) + " " + keyFields
	writeFile(t, c.knownHosts, "# comment\n"+hashed+"\n")

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial with a hashed known_hosts entry: %v", err)
	}
}

func TestHostKeyAcceptNewHashed(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	writeFile(t, c.knownHosts, "")
	configFile := filepath.Join(c.home, "config")
	writeFile(t, configFile, "HashKnownHosts yes\n")
	o.ConfigFile = configFile
	o.StrictHostKeyChecking = "accept-new"

	if _, err := dial(t, o); err != nil {
		t.Fatalf("first Dial: %v", err)
	}
	content, _ := os.ReadFile(c.knownHosts)
	if !strings.HasPrefix(string(content), "|1|") {
		t.Errorf("known_hosts = %q, want a hashed host name", content)
	}
	o.StrictHostKeyChecking = "yes"
	if _, err := dial(t, o); err != nil {
		t.Fatalf("second Dial: %v", err)
	}
}

func TestHostKeyChangedRejected(t *testing.T) {
	for _, strict := range []string{"yes", "accept-new"} {
		t.Run(strict, func(t *testing.T) {
			c := newClientSetup(t)
			server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
			o := c.target(t, server)
			oldLine := knownhosts.Line([]string{server.address()}, newSigner(t).PublicKey())
			writeFile(t, c.knownHosts, "# first line\n"+oldLine+"\n")
			o.StrictHostKeyChecking = strict

			_, err := dial(t, o)

			de := requireDialError(t, err, KindHostKeyChanged)
			if !IsPermanent(err) {
				t.Error("IsPermanent = false for a changed host key")
			}
			name := "[127.0.0.1]:" + strconv.Itoa(server.port)
			want := "WARNING: the host key of " + name + " has CHANGED (now ED25519 " +
				ssh.FingerprintSHA256(server.hostSigner.PublicKey()) + ", known_hosts line " + c.knownHosts + ":2 has another): " +
				"someone may be intercepting the connection; if the server's key really changed, remove the old line with " +
				`'ssh-keygen -R "` + name + `" -f "` + c.knownHosts + `"'`
			if err.Error() != want {
				t.Errorf("message:\n got %q\nwant %q", err, want)
			}
			if de.KnownHostsLine != 2 {
				t.Errorf("KnownHostsLine = %d, want 2", de.KnownHostsLine)
			}
			content, _ := os.ReadFile(c.knownHosts)
			if strings.Count(string(content), "\n") != 2 {
				t.Errorf("known_hosts was modified: %q", content)
			}
		})
	}
}

func TestHostKeyStrictNo(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	writeFile(t, c.knownHosts, "")
	o.StrictHostKeyChecking = "no"

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial with an unknown key: %v", err)
	}
	if !strings.Contains(c.logs.String(), "level=WARN") || !strings.Contains(c.logs.String(), "StrictHostKeyChecking=no") {
		t.Errorf("no warning about the unchecked key in the log:\n%s", c.logs)
	}
	content, _ := os.ReadFile(c.knownHosts)
	if len(content) != 0 {
		t.Errorf("StrictHostKeyChecking=no wrote known_hosts: %q", content)
	}

	writeFile(t, c.knownHosts, knownhosts.Line([]string{server.address()}, newSigner(t).PublicKey())+"\n")
	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial with a changed key: %v", err)
	}
	if !strings.Contains(c.logs.String(), "has CHANGED") {
		t.Errorf("no warning about the changed key in the log:\n%s", c.logs)
	}
}

func TestHostKeyStrictNoChangedNoPassword(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "secret"})
	o := c.target(t, server)
	writeFile(t, c.knownHosts, knownhosts.Line([]string{server.address()}, newSigner(t).PublicKey())+"\n")
	o.StrictHostKeyChecking = "no"
	o.IdentityFiles = nil
	o.PasswordStdin = true
	o.Stdin = strings.NewReader("secret\n")

	_, err := dial(t, o)

	requireDialError(t, err, KindAuthFailed)
	if n := server.passwords.Load(); n != 0 {
		t.Errorf("the password was sent %d times to a server whose key changed", n)
	}
}

func TestHostKeyDevNull(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	o.KnownHostsFiles = []string{os.DevNull}

	_, err := dial(t, o)
	requireDialError(t, err, KindHostKeyUnknown)

	o.StrictHostKeyChecking = "accept-new"
	for i := range 2 {
		if _, err := dial(t, o); err != nil {
			t.Fatalf("Dial %d with accept-new and /dev/null: %v", i+1, err)
		}
	}
}

func TestHostKeyPrefersKnownType(t *testing.T) {
	c := newClientSetup(t)
	ecdsaKey := newECDSASigner(t)
	ed25519Key := newSigner(t)
	// x/crypto/ssh prefers ECDSA over ED25519 by default, so without the
	// known type first it would negotiate ECDSA and report a changed key.
	server := startTestServer(t, serverOptions{
		authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()},
		hostSigners:    []ssh.Signer{ecdsaKey, ed25519Key},
	})
	o := c.target(t, server)
	writeFile(t, c.knownHosts, knownhosts.Line([]string{server.address()}, ed25519Key.PublicKey())+"\n")

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial with only the ED25519 key known: %v", err)
	}
}

func TestHostKeyRevoked(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	_, keyFields, _ := strings.Cut(server.knownHostsLine(), " ")
	writeFile(t, c.knownHosts, server.knownHostsLine()+"\n@revoked * "+keyFields+"\n")

	_, err := dial(t, o)

	de := requireDialError(t, err, KindHostKeyRevoked)
	if !IsPermanent(err) {
		t.Error("IsPermanent = false for a revoked key")
	}
	if de.KnownHostsLine != 2 {
		t.Errorf("KnownHostsLine = %d, want 2", de.KnownHostsLine)
	}
}

func TestHostKeySeveralFiles(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	second := filepath.Join(c.home, "second_known_hosts")
	writeFile(t, second, server.knownHostsLine()+"\n")
	writeFile(t, c.knownHosts, "garbage that is not a known_hosts line\n")
	o.KnownHostsFiles = []string{filepath.Join(c.home, "missing"), c.knownHosts, second}

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial with the key in the third file: %v", err)
	}
	if !strings.Contains(c.logs.String(), "ignoring known_hosts file without valid lines") {
		t.Errorf("no warning about the invalid file in the log:\n%s", c.logs)
	}
}

func TestOrderHostKeyAlgorithms(t *testing.T) {
	got := orderHostKeyAlgorithms([]string{ssh.KeyAlgoRSA, ssh.KeyAlgoED25519}, false)
	wantPrefix := []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA, ssh.KeyAlgoED25519}
	if len(got) < len(wantPrefix) || !slices.Equal(got[:len(wantPrefix)], wantPrefix) {
		t.Errorf("order = %q, want it to start with %q", got, wantPrefix)
	}
	for _, algorithm := range got {
		if strings.Contains(algorithm, "-cert-") {
			t.Errorf("certificate algorithm %q offered without a @cert-authority line", algorithm)
		}
	}
	if !slices.Contains(got, ssh.KeyAlgoECDSA256) {
		t.Errorf("order = %q lacks the other supported algorithms", got)
	}

	unknown := orderHostKeyAlgorithms(nil, false)
	if unknown[0] != ssh.KeyAlgoED25519 || slices.Contains(unknown, ssh.KeyAlgoRSA) {
		t.Errorf("order without known keys = %q, want ED25519 first and no SHA-1 RSA", unknown)
	}

	withCA := orderHostKeyAlgorithms([]string{ssh.KeyAlgoED25519}, true)
	if !strings.Contains(withCA[0], "-cert-") {
		t.Errorf("order with a CA = %q, want certificate algorithms first", withCA)
	}
}

// FuzzKnownHosts feeds arbitrary known_hosts content to the host key
// checker, which must return a verdict or an error and never panic.
func FuzzKnownHosts(f *testing.F) {
	signer := newSigner(f)
	key := signer.PublicKey()
	_, keyFields, _ := strings.Cut(knownhosts.Line([]string{"h"}, key), " ")
	f.Add("[127.0.0.1]:2222 " + keyFields + "\n")
	f.Add(knownhosts.HashHostname("[127.0.0.1]:2222") + " " + keyFields + "\n")
	f.Add("@revoked * " + keyFields + "\n")
	f.Add("@cert-authority *.example " + keyFields + "\n")
	f.Add("!127.0.0.1,* " + keyFields + "\n# comment\n\n")
	f.Add("[::1]:22 ssh-ed25519 AAAA\n|1|bad|hash ssh-rsa x\n")
	f.Add("\x00\xff @@ [[[ ]]]:: ,,, \r\n")

	logger := slog.New(slog.DiscardHandler)
	// Iterations in one fuzz worker run one at a time, so they can share
	// the file.
	file := filepath.Join(f.TempDir(), "known_hosts")
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, strict := range []string{"yes", "no"} {
			checker := newHostKeyChecker(settings{
				hostName:              "127.0.0.1",
				port:                  2222,
				knownHostsFiles:       []string{file},
				strictHostKeyChecking: strict,
			}, logger)
			remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
			if _, err := checker.check(remote, key); err != nil && err.Error() == "" {
				t.Error("empty error message")
			}
			if _, err := checker.hostKeyAlgorithms(); err != nil && err.Error() == "" {
				t.Error("empty error message")
			}
		}
	})
}

func TestHostKeyAcceptNewConcurrent(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	writeFile(t, c.knownHosts, "")
	o.StrictHostKeyChecking = "accept-new"
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}

	errs := make(chan error, 4)
	for range 4 {
		go func() {
			client, err := d.Dial(context.Background())
			if err == nil {
				client.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Dial: %v", err)
		}
	}

	content, _ := os.ReadFile(c.knownHosts)
	if n := strings.Count(string(content), "\n"); n != 1 {
		t.Errorf("known_hosts has %d lines after concurrent dials, want 1:\n%s", n, content)
	}
}

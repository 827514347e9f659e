package remote

import (
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/crypto/ssh"
)

// encryptedKey is an ED25519 key that OpenSSH 9 ssh-keygen encrypted with
// the passphrase "right" and 1 bcrypt round (-a 1), so that tests under the
// race detector do not spend seconds in the key derivation.
const encryptedKey = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCsoMvNsQ
IBYn/odiBkY4x/AAAAAQAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIC0lEsHck99Lk8ja
1O7vBuWvxqYNKbxne4NcfEK5Msk8AAAAoGAsQRNBh3d+OWPaTyJVNfbes/G9Q9tOJifrZf
zg6uG3o3AvI7UxPsL8uW5INBR8lBbehQul2Fd2ve9UMEvHp3ETWtpyZwIyIPkkIgrwJ7WJ
574+I1cAVb1vtqD+Jt0iIFmfReFOwDy6QjhcFm+hkIv3EuHdf3Qy28EtWZe/l+tT3f6Zr/
v5w47QVvBq4eNffZvAvtYI91pW8do6Dily1fE=
-----END OPENSSH PRIVATE KEY-----
`

// writeEncryptedKey writes encryptedKey to path and returns its private key.
func writeEncryptedKey(t *testing.T, path string) any {
	t.Helper()
	writeFile(t, path, encryptedKey)
	private, err := ssh.ParseRawPrivateKeyWithPassphrase([]byte(encryptedKey), []byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	return private
}

func publicKeyOf(t *testing.T, private any) ssh.PublicKey {
	t.Helper()
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}

func TestEncryptedKeyWithoutTerminal(t *testing.T) {
	c := newClientSetup(t)
	encrypted := filepath.Join(c.home, "keys", "encrypted")
	writeEncryptedKey(t, encrypted)
	o := c.options
	o.Host = "127.0.0.1"
	o.IdentityFiles = []string{encrypted}

	_, err := NewDialer(o)

	if err == nil {
		t.Fatal("NewDialer accepted an encrypted key without a terminal")
	}
	want := `identity file "` + encrypted + `" is encrypted and no terminal is available to ask for its passphrase: ` +
		"add it to ssh-agent with 'ssh-add " + encrypted + "', or use a key without a passphrase"
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err, want)
	}
}

func TestEncryptedDefaultKeyWithPasswordStdin(t *testing.T) {
	c := newClientSetup(t)
	writeEncryptedKey(t, filepath.Join(c.home, ".ssh", "id_ed25519"))
	server := startTestServer(t, serverOptions{password: "pw"})
	o := c.target(t, server)
	o.IdentityFiles = nil
	o.PasswordStdin = true
	o.Stdin = strings.NewReader("pw\n")

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial with password while the encrypted key is skipped: %v", err)
	}
	if !strings.Contains(c.logs.String(), "skipping encrypted identity file") {
		t.Errorf("no warning about the skipped key in the log:\n%s", c.logs)
	}
}

func TestEncryptedKeyPromptedOnce(t *testing.T) {
	c := newClientSetup(t)
	encrypted := filepath.Join(c.home, "keys", "encrypted")
	publicKey := publicKeyOf(t, writeEncryptedKey(t, encrypted))
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{publicKey}})
	o := c.target(t, server)
	o.IdentityFiles = []string{encrypted}
	terminal := useFakeTerminal(t, "wrong", "right")

	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := dialWith(t, d); err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
	}

	prompts := terminal.promptList()
	want := []string{
		"Enter passphrase for key '" + encrypted + "': ",
		"Bad passphrase, try again for key '" + encrypted + "': ",
	}
	if strings.Join(prompts, "|") != strings.Join(want, "|") {
		t.Errorf("prompts = %q, want %q", prompts, want)
	}
	if strings.Contains(c.logs.String(), "right") {
		t.Errorf("the log contains the passphrase:\n%s", c.logs)
	}
}

func TestEncryptedKeyWrongPassphrase(t *testing.T) {
	c := newClientSetup(t)
	encrypted := filepath.Join(c.home, "keys", "encrypted")
	writeEncryptedKey(t, encrypted)
	o := c.options
	o.Host = "127.0.0.1"
	o.IdentityFiles = []string{encrypted}
	useFakeTerminal(t, "a", "b", "c", "d")

	_, err := NewDialer(o)

	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") || !strings.Contains(err.Error(), encrypted) {
		t.Errorf("error = %v, want a wrong passphrase error naming the file", err)
	}
}

func TestEncryptedKeyHeldByAgent(t *testing.T) {
	c := newClientSetup(t)
	encrypted := filepath.Join(c.home, "keys", "encrypted")
	private := writeEncryptedKey(t, encrypted)
	publicKey := publicKeyOf(t, private)
	startAgent(t, private)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{publicKey}})
	o := c.target(t, server)
	o.IdentityFiles = []string{encrypted}
	terminal := useFakeTerminal(t)

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if prompts := terminal.promptList(); len(prompts) != 0 {
		t.Errorf("prompted %q for a key that ssh-agent holds", prompts)
	}
}

func TestIdentitiesOnlyFiltersAgent(t *testing.T) {
	c := newClientSetup(t)
	private, publicKey := newEd25519Key(t)
	startAgent(t, private)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{publicKey}})
	o := c.target(t, server) // IdentityFiles lists a key the server rejects

	if _, err := dial(t, o); err != nil {
		t.Fatalf("Dial offering agent keys: %v", err)
	}

	configFile := filepath.Join(c.home, "config")
	writeFile(t, configFile, "IdentitiesOnly yes\n")
	o.ConfigFile = configFile
	_, err := dial(t, o)
	requireDialError(t, err, KindAuthFailed)

	// A .pub file as IdentityFile selects the agent key it names.
	publicFile := filepath.Join(c.home, "keys", "agent.pub")
	writeFile(t, publicFile, string(ssh.MarshalAuthorizedKey(publicKey)))
	o.IdentityFiles = []string{publicFile}
	if _, err := dial(t, o); err != nil {
		t.Errorf("Dial with IdentitiesOnly and the agent key's .pub file: %v", err)
	}
}

func TestMissingIdentityFile(t *testing.T) {
	c := newClientSetup(t)
	o := c.options
	o.Host = "127.0.0.1"
	missing := filepath.Join(c.home, "no-such-key")
	o.IdentityFiles = []string{missing}

	_, err := NewDialer(o)

	want := `identity file "` + missing + `" not found: check -o IdentityFile`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}

	configFile := filepath.Join(c.home, "config")
	writeFile(t, configFile, "IdentityFile "+missing+"\n")
	o.IdentityFiles = nil
	o.ConfigFile = configFile
	if _, err := NewDialer(o); err != nil {
		t.Errorf("NewDialer with a missing IdentityFile from ssh_config: %v", err)
	}
	if !strings.Contains(c.logs.String(), "identity file from ssh_config not found") {
		t.Errorf("no warning about the missing file in the log:\n%s", c.logs)
	}
}

func TestInvalidIdentityFile(t *testing.T) {
	c := newClientSetup(t)
	o := c.options
	o.Host = "127.0.0.1"
	invalid := filepath.Join(c.home, "not-a-key")
	writeFile(t, invalid, "hello\n")
	o.IdentityFiles = []string{invalid}

	_, err := NewDialer(o)

	if err == nil || !strings.Contains(err.Error(), "not a private key") {
		t.Errorf("error = %v, want one saying the file is not a private key", err)
	}

	writeFile(t, filepath.Join(c.home, ".ssh", "id_rsa"), "not a key either\n")
	o.IdentityFiles = nil
	if _, err := NewDialer(o); err != nil {
		t.Errorf("NewDialer with an invalid default key: %v", err)
	}
}

func TestDialUserCertificate(t *testing.T) {
	c := newClientSetup(t)
	authority := newSigner(t)
	cert := &ssh.Certificate{
		Key:             c.signer.PublicKey(),
		CertType:        ssh.UserCert,
		KeyId:           "test",
		ValidPrincipals: []string{"tester"},
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, authority); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.keyFile+"-cert.pub", string(ssh.MarshalAuthorizedKey(cert)))
	server := startTestServer(t, serverOptions{userAuthority: authority.PublicKey()})

	if _, err := dial(t, c.target(t, server)); err != nil {
		t.Fatalf("Dial with a user certificate: %v", err)
	}
}

func TestReadLine(t *testing.T) {
	cases := []struct {
		in, want string
		wantErr  bool
	}{
		{"secret\n", "secret", false},
		{"secret\r\nmore", "secret", false},
		{"no newline", "no newline", false},
		{"\n", "", false},
		{"", "", true},
	}
	for _, tc := range cases {
		got, err := readLine(strings.NewReader(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("readLine(%q) = %q, %v, want %q (error: %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}

	if _, err := readLine(iotest.ErrReader(errors.New("broken"))); err == nil {
		t.Error("readLine ignored a read error")
	}
	if _, err := readLine(strings.NewReader(strings.Repeat("x", maxLineLength+1))); err == nil {
		t.Error("readLine accepted an over-long line")
	}
	// One byte per Read with the error together with the last byte.
	if got, err := readLine(iotest.DataErrReader(strings.NewReader("ab"))); err != nil || got != "ab" {
		t.Errorf("readLine with io.EOF on the last byte = %q, %v", got, err)
	}
}

// slowReader delays every Read, to show that NewDialer reads the password
// once and Dial does not read again.
type slowReader struct {
	r     io.Reader
	reads int
}

func (s *slowReader) Read(p []byte) (int, error) {
	s.reads++
	time.Sleep(time.Millisecond)
	return s.r.Read(p)
}

func TestPasswordStdinReadOnce(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{password: "pw"})
	o := c.target(t, server)
	o.IdentityFiles = nil
	o.PasswordStdin = true
	stdin := &slowReader{r: strings.NewReader("pw\n")}
	o.Stdin = stdin
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}
	readsAfterNew := stdin.reads

	for i := range 2 {
		if _, err := dialWith(t, d); err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
	}
	if stdin.reads != readsAfterNew {
		t.Errorf("Dial read standard input %d more times", stdin.reads-readsAfterNew)
	}
	if _, err := os.Stat(filepath.Join(c.home, ".ssh")); err == nil {
		t.Error("Dial created ~/.ssh although known_hosts was given")
	}
}

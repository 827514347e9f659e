package remote

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"
)

// maxPromptAttempts bounds how often one dial prompts for a passphrase or
// password, as OpenSSH's NumberOfPasswordPrompts does by default.
const maxPromptAttempts = 3

// agentTimeout bounds connecting to and listing the keys of ssh-agent.
const agentTimeout = 5 * time.Second

// credentials holds what NewDialer unlocked so that redials never ask again.
type credentials struct {
	// Immutable after newCredentials.
	logger      *slog.Logger
	user        string // remote user, for the password prompt
	host        string // remote HostName, for the password prompt
	agentSocket string // SSH_AUTH_SOCK; "" when no agent is running
	// identitiesOnly offers only the agent keys that match identityKeys.
	identitiesOnly bool
	signers        []ssh.Signer    // keys loaded from identity files
	identityKeys   []ssh.PublicKey // public halves of every identity file found
	stdinPassword  bool            // the password came from Options.Stdin
	// unlocked is shared by the credentials of one Dialer's hosts and only
	// used while NewDialer runs.
	unlocked map[string]ssh.Signer

	// mu serializes terminal prompts and guards the fields below.
	mu           sync.Mutex
	password     string
	havePassword bool
}

// authInputError ends the password or keyboard-interactive method when it
// has no password or response to send. x/crypto/ssh then tries the next method.
type authInputError struct{ reason string }

func (e *authInputError) Error() string { return e.reason }

var errNoTerminal = errors.New("no terminal is available")

// prompter reads passphrases, passwords and responses from the user. Tests replace openPrompter.
type prompter interface {
	ReadSecret(prompt string) ([]byte, error)
	ReadLine(prompt string) (string, error)
	Close() error
}

var openPrompter = openTerminalPrompter

// newCredentials loads the identity files, asking for passphrases on the
// terminal, and reads the password from o.Stdin when o.PasswordStdin is set.
// unlocked maps identity file paths to the keys unlocked so far, so that
// jump hosts sharing a key ask for its passphrase once.
func newCredentials(o Options, s settings, logger *slog.Logger, unlocked map[string]ssh.Signer) (*credentials, error) {
	c := &credentials{
		unlocked:       unlocked,
		logger:         logger,
		user:           s.user,
		host:           s.hostName,
		agentSocket:    os.Getenv("SSH_AUTH_SOCK"),
		identitiesOnly: s.identitiesOnly,
		stdinPassword:  o.PasswordStdin,
	}
	if o.PasswordStdin {
		stdin := o.Stdin
		if stdin == nil {
			stdin = os.Stdin
		}
		password, err := readLine(stdin)
		if err != nil {
			return nil, fmt.Errorf("cannot read the password from standard input: %w", err)
		}
		c.password, c.havePassword = password, true
	}

	agentKeys := c.listAgentKeys()
	for _, identity := range s.identityFiles {
		if err := c.loadIdentity(identity, agentKeys); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// listAgentKeys returns the keys ssh-agent holds, or nil when no agent
// responds.
func (c *credentials) listAgentKeys() []ssh.PublicKey {
	client, conn := c.connectAgent()
	if client == nil {
		return nil
	}
	defer conn.Close()
	keys, err := client.List()
	if err != nil {
		c.logger.Warn("cannot list the keys of ssh-agent", "socket", c.agentSocket, "err", err)
		return nil
	}
	publicKeys := make([]ssh.PublicKey, 0, len(keys))
	for _, key := range keys {
		publicKeys = append(publicKeys, key)
	}
	return publicKeys
}

func (c *credentials) connectAgent() (agent.ExtendedAgent, net.Conn) {
	if c.agentSocket == "" {
		return nil, nil
	}
	conn, err := net.DialTimeout("unix", c.agentSocket, agentTimeout)
	if err != nil {
		c.logger.Warn("cannot connect to ssh-agent, continuing without it", "socket", c.agentSocket, "err", err)
		return nil, nil
	}
	if err := conn.SetDeadline(time.Now().Add(agentTimeout)); err != nil {
		conn.Close()
		return nil, nil
	}
	return agent.NewClient(conn), conn
}

// loadIdentity adds the key in one identity file. A missing file is an error
// only when Options named it. An encrypted key that ssh-agent holds is not
// unlocked, because the agent signs with it.
func (c *credentials) loadIdentity(identity identityFile, agentKeys []ssh.PublicKey) error {
	data, err := os.ReadFile(identity.path)
	if errors.Is(err, fs.ErrNotExist) {
		switch identity.source {
		case identityFromOptions:
			return fmt.Errorf("identity file %q not found: check -o IdentityFile", identity.path)
		case identityFromConfig:
			c.logger.Warn("identity file from ssh_config not found", "file", identity.path)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read identity file: %w", err)
	}

	signer, err := c.parseIdentity(identity.path, data, agentKeys)
	switch {
	case err == nil && signer == nil:
		return nil
	case err == nil:
		c.identityKeys = append(c.identityKeys, signer.PublicKey())
		c.addCertificate(identity.path, signer)
		c.signers = append(c.signers, signer)
		return nil
	case identity.source == identityFromOptions, errors.As(err, new(*authInputError)):
		return err
	}
	c.logger.Warn("skipping identity file", "file", identity.path, "err", err)
	return nil
}

// parseIdentity returns the signer for the key in data. It returns a nil
// signer for a key that is skipped or that only ssh-agent can use, and
// records the public key of the latter in identityKeys.
func (c *credentials) parseIdentity(path string, data []byte, agentKeys []ssh.PublicKey) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return c.unlockIdentity(path, data, missing.PublicKey, agentKeys)
	}
	if err == nil {
		return signer, nil
	}

	publicKey, _, _, _, pubErr := ssh.ParseAuthorizedKey(data)
	if pubErr == nil {
		// A public key file names a key whose private half the agent holds.
		c.identityKeys = append(c.identityKeys, publicKey)
		return nil, nil
	}
	return nil, fmt.Errorf("identity file %q is not a private key that gosshfs can use: %v", path, err)
}

// addCertificate adds the OpenSSH certificate FILE-cert.pub for the key in
// FILE, when there is one, ahead of the plain key.
func (c *credentials) addCertificate(path string, signer ssh.Signer) {
	data, err := os.ReadFile(path + "-cert.pub")
	if err != nil {
		return
	}
	publicKey, _, _, _, err := ssh.ParseAuthorizedKey(data)
	cert, ok := publicKey.(*ssh.Certificate)
	if err != nil || !ok {
		c.logger.Warn("ignoring invalid certificate file", "file", path+"-cert.pub")
		return
	}
	certSigner, err := ssh.NewCertSigner(cert, signer)
	if err != nil {
		c.logger.Warn("ignoring certificate that does not match its key", "file", path+"-cert.pub", "err", err)
		return
	}
	c.signers = append(c.signers, certSigner)
}

// unlockIdentity prompts for the passphrase of an encrypted key. It returns a
// nil signer when the key is skipped: ssh-agent holds it, or the user
// entered an empty passphrase.
func (c *credentials) unlockIdentity(path string, data []byte, publicKey ssh.PublicKey, agentKeys []ssh.PublicKey) (ssh.Signer, error) {
	if signer := c.unlocked[path]; signer != nil {
		return signer, nil
	}
	if publicKey == nil {
		publicKey = readPublicKeyFile(path + ".pub")
	}
	if publicKey != nil && containsKey(agentKeys, publicKey) {
		c.logger.Debug("encrypted identity is held by ssh-agent, not asking for its passphrase", "file", path)
		c.identityKeys = append(c.identityKeys, publicKey)
		return nil, nil
	}

	terminal, err := openPrompter()
	if err != nil && c.stdinPassword {
		c.logger.Warn("skipping encrypted identity file because no terminal is available for its passphrase", "file", path)
		return nil, nil
	}
	if err != nil {
		return nil, &authInputError{fmt.Sprintf(
			"identity file %q is encrypted and no terminal is available to ask for its passphrase: add it to ssh-agent with 'ssh-add %s', or use a key without a passphrase",
			path, path)}
	}
	defer terminal.Close()

	prompt := fmt.Sprintf("Enter passphrase for key '%s': ", path)
	for range maxPromptAttempts {
		passphrase, err := terminal.ReadSecret(prompt)
		if err != nil {
			return nil, fmt.Errorf("cannot read the passphrase for identity file %q: %w", path, err)
		}
		if len(passphrase) == 0 {
			c.logger.Info("skipping encrypted identity file because the passphrase was empty", "file", path)
			return nil, nil
		}
		signer, err := ssh.ParsePrivateKeyWithPassphrase(data, passphrase)
		clear(passphrase)
		if errors.Is(err, x509.IncorrectPasswordError) {
			prompt = fmt.Sprintf("Bad passphrase, try again for key '%s': ", path)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot decrypt identity file %q: %v", path, err)
		}
		if c.unlocked != nil {
			c.unlocked[path] = signer
		}
		return signer, nil
	}
	return nil, &authInputError{fmt.Sprintf("wrong passphrase for identity file %q after %d attempts", path, maxPromptAttempts)}
}

func readPublicKeyFile(path string) ssh.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	publicKey, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return publicKey
}

func containsKey(keys []ssh.PublicKey, key ssh.PublicKey) bool {
	blob := key.Marshal()
	for _, k := range keys {
		if bytes.Equal(k.Marshal(), blob) {
			return true
		}
	}
	return false
}

// authMethods returns the methods for one dial in OpenSSH's order:
// publickey (ssh-agent keys, then identity files), keyboard-interactive,
// password. The caller must call closeAgent after the handshake.
func (c *credentials) authMethods(a *dialAttempt) (methods []ssh.AuthMethod, closeAgent func()) {
	closeAgent = func() {}
	var signers []ssh.Signer
	if client, conn := c.connectAgent(); client != nil {
		closeAgent = func() { conn.Close() }
		signers = c.agentSigners(client)
	}
	var agentKeys []ssh.PublicKey
	for _, signer := range signers {
		agentKeys = append(agentKeys, signer.PublicKey())
	}
	for _, signer := range c.signers {
		if !containsKey(agentKeys, signer.PublicKey()) {
			signers = append(signers, signer)
		}
	}

	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			a.recordMethod("publickey")
			return signers, nil
		}))
	}
	keyboard := ssh.AuthMethod(ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		return c.answerChallenge(a, name, instruction, questions, echos)
	}))
	password := ssh.AuthMethod(ssh.PasswordCallback(func() (string, error) {
		return c.secret(a, "password", fmt.Sprintf("%s@%s's password: ", c.user, c.host), true)
	}))
	if !c.stdinPassword {
		// A terminal user may mistype, so ask again like ssh(1) does.
		keyboard = ssh.RetryableAuthMethod(keyboard, maxPromptAttempts)
		password = ssh.RetryableAuthMethod(password, maxPromptAttempts)
	}
	return append(methods, keyboard, password), closeAgent
}

func (c *credentials) agentSigners(client agent.ExtendedAgent) []ssh.Signer {
	signers, err := client.Signers()
	if err != nil {
		c.logger.Warn("cannot list the keys of ssh-agent", "socket", c.agentSocket, "err", err)
		return nil
	}
	if !c.identitiesOnly {
		return signers
	}
	var matching []ssh.Signer
	for _, signer := range signers {
		if containsKey(c.identityKeys, signer.PublicKey()) {
			matching = append(matching, signer)
		}
	}
	return matching
}

// answerChallenge returns the responses to a keyboard-interactive
// challenge. A single hidden question, which is how PAM requests the
// password, gets the password. Other questions are prompted on the terminal.
func (c *credentials) answerChallenge(a *dialAttempt, name, instruction string, questions []string, echos []bool) ([]string, error) {
	if len(questions) == 0 {
		return nil, nil
	}
	if len(questions) == 1 && !echos[0] {
		remember := strings.Contains(strings.ToLower(questions[0]), "password")
		answer, err := c.secret(a, "keyboard-interactive", c.user+"@"+c.host+" "+questions[0], remember)
		if err != nil {
			return nil, err
		}
		return []string{answer}, nil
	}

	if err := a.checkSecretsAllowed(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a.pauseDeadline()
	defer a.resumeDeadline()
	terminal, err := openPrompter()
	if err != nil {
		return nil, &authInputError{"the server requests keyboard-interactive responses and no terminal is available to prompt for them"}
	}
	defer terminal.Close()

	header := strings.TrimSpace(strings.Join([]string{name, instruction}, "\n"))
	answers := make([]string, len(questions))
	for i, question := range questions {
		if i == 0 && header != "" {
			question = header + "\n" + question
		}
		var answer string
		if echos[i] {
			answer, err = terminal.ReadLine(question)
		} else {
			var secret []byte
			secret, err = terminal.ReadSecret(question)
			answer = string(secret)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read the response to %q: %w", questions[i], err)
		}
		answers[i] = answer
	}
	a.recordMethod("keyboard-interactive")
	return answers, nil
}

// secret returns the password for method, "password" or
// "keyboard-interactive" with one hidden question. It sends the password
// from standard input, or the one remembered from an earlier dial, once per
// dial and then prompts on the terminal. A typed password is kept for later
// dials when remember is set and the dial succeeds.
func (c *credentials) secret(a *dialAttempt, method, prompt string, remember bool) (string, error) {
	if err := a.checkSecretsAllowed(); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.stdinPassword {
		if !a.takeStoredPassword() {
			return "", &authInputError{"the server rejected the password from standard input"}
		}
		a.recordMethod(method)
		return c.password, nil
	}
	if c.havePassword && a.takeStoredPassword() {
		a.recordMethod(method)
		return c.password, nil
	}

	a.pauseDeadline()
	defer a.resumeDeadline()
	terminal, err := openPrompter()
	if err != nil {
		return "", &authInputError{"the server requests a password and no terminal is available to prompt for it"}
	}
	defer terminal.Close()
	answer, err := terminal.ReadSecret(prompt)
	if err != nil {
		return "", fmt.Errorf("cannot read the password: %w", err)
	}
	if remember {
		a.setTypedPassword(string(answer))
	}
	a.recordMethod(method)
	return string(answer), nil
}

// rememberPassword keeps the password typed during a successful dial.
func (c *credentials) rememberPassword(a *dialAttempt) {
	typed, ok := a.typedPasswordValue()
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.password, c.havePassword = typed, true
}

// maxLineLength bounds a password read from standard input.
const maxLineLength = 64 << 10

// readLine reads bytes up to a newline, one at a time so that nothing after
// the line is consumed. It strips the newline and a preceding carriage
// return.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < maxLineLength {
		n, err := r.Read(b)
		if n == 1 && b[0] == '\n' {
			break
		}
		if n == 1 {
			line = append(line, b[0])
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			break
		}
		if errors.Is(err, io.EOF) {
			return "", errors.New("input is empty")
		}
		if err != nil {
			return "", err
		}
	}
	if len(line) >= maxLineLength {
		return "", fmt.Errorf("line is longer than %d bytes", maxLineLength)
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// terminalPrompter prompts on /dev/tty, or on standard input when that is a
// terminal, and writes prompts to standard error.
type terminalPrompter struct {
	in      *os.File
	ownsIn  bool
	prompts io.Writer
}

func openTerminalPrompter() (prompter, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err == nil && term.IsTerminal(int(tty.Fd())) {
		return &terminalPrompter{in: tty, ownsIn: true, prompts: os.Stderr}, nil
	}
	if err == nil {
		tty.Close()
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		return &terminalPrompter{in: os.Stdin, prompts: os.Stderr}, nil
	}
	return nil, errNoTerminal
}

func (t *terminalPrompter) ReadSecret(prompt string) ([]byte, error) {
	fmt.Fprint(t.prompts, prompt)
	secret, err := term.ReadPassword(int(t.in.Fd()))
	fmt.Fprintln(t.prompts)
	return secret, err
}

func (t *terminalPrompter) ReadLine(prompt string) (string, error) {
	fmt.Fprint(t.prompts, prompt)
	return readLine(t.in)
}

func (t *terminalPrompter) Close() error {
	if t.ownsIn {
		return t.in.Close()
	}
	return nil
}

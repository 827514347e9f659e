package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const sshdPath = "/usr/sbin/sshd"

// deniedExtensionRequests are the sftp-server request names that the second
// server rejects, leaving only the SFTP version 3 base protocol.
//
// NOTE: OpenSSH's sftp-server still advertises these extensions in its
// version packet and replies to each denied request with a failure status,
// so the client learns that an extension is missing only when it uses it.
var deniedExtensionRequests = []string{
	"posix-rename",
	"hardlink",
	"statvfs",
	"fstatvfs",
	"fsync",
	"lsetstat",
}

// sshKeys are the key files shared by every sshd of a run.
type sshKeys struct {
	hostKey       string // private host key of every server
	otherHostKey  string // a host key no server uses, for the changed-key test
	clientKey     string // private client key listed in authorized_keys
	strangerKey   string // private client key not listed anywhere
	authorizedKey string // authorized_keys file listing clientKey
}

// sshServer is one running OpenSSH sshd listening on 127.0.0.1.
type sshServer struct {
	name       string
	dir        string
	port       int
	keys       sshKeys
	knownHosts string // known_hosts listing "[127.0.0.1]:port hostkey"
	logPath    string
	// extensions reports whether sftp-server serves the OpenSSH extensions.
	extensions bool

	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// generateKeys creates the ed25519 keys of a run in dir.
func generateKeys(dir string) (sshKeys, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sshKeys{}, err
	}
	k := sshKeys{
		hostKey:       filepath.Join(dir, "ssh_host_ed25519_key"),
		otherHostKey:  filepath.Join(dir, "other_host_ed25519_key"),
		clientKey:     filepath.Join(dir, "id_ed25519"),
		strangerKey:   filepath.Join(dir, "stranger_ed25519"),
		authorizedKey: filepath.Join(dir, "authorized_keys"),
	}
	for _, path := range []string{k.hostKey, k.otherHostKey, k.clientKey, k.strangerKey} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", filepath.Base(path), "-f", path).CombinedOutput()
		if err != nil {
			return sshKeys{}, fmt.Errorf("ssh-keygen %s failed: %v: %s", path, err, out)
		}
	}
	pub, err := os.ReadFile(k.clientKey + ".pub")
	if err != nil {
		return sshKeys{}, err
	}
	if err := os.WriteFile(k.authorizedKey, pub, 0o600); err != nil {
		return sshKeys{}, err
	}
	return k, nil
}

// findSFTPServer returns the path of OpenSSH's sftp-server, or "".
func findSFTPServer() string {
	for _, path := range []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server", "/usr/lib/ssh/sftp-server"} {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	return ""
}

// startSSHServer starts sshd in base/name and waits until it sends its
// banner. denied lists sftp-server requests to reject.
func startSSHServer(base, name string, keys sshKeys, denied []string) (*sshServer, error) {
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("cannot create /run/sshd: %w", err)
	}
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}

	// Another process may take the free port between the probe and sshd's
	// bind, so retry with a new port a few times.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &sshServer{
			name:       name,
			dir:        dir,
			port:       port,
			keys:       keys,
			knownHosts: filepath.Join(dir, "known_hosts"),
			logPath:    filepath.Join(dir, fmt.Sprintf("sshd-%d.log", port)),
			extensions: len(denied) == 0,
		}
		if err := s.writeFiles(denied); err != nil {
			return nil, err
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func (s *sshServer) configPath() string { return filepath.Join(s.dir, "sshd_config") }

func (s *sshServer) writeFiles(denied []string) error {
	subsystem := findSFTPServer()
	if len(denied) > 0 {
		subsystem += " -P " + strings.Join(denied, ",")
	}
	// SetEnv SHLVL=1: sshd starts the subsystem through root's login shell,
	// and bash reads ~/.bashrc for commands run by sshd unless SHLVL shows
	// that it is a nested shell. A slow .bashrc would delay every session.
	// StrictModes is off because the files live below /tmp, which is
	// world-writable.
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin yes
SetEnv SHLVL=1
Subsystem sftp %s
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
`, s.port, s.keys.hostKey, filepath.Join(s.dir, "sshd.pid"), s.keys.authorizedKey, subsystem)
	if err := os.WriteFile(s.configPath(), []byte(config), 0o644); err != nil {
		return err
	}

	hostPub, err := os.ReadFile(s.keys.hostKey + ".pub")
	if err != nil {
		return err
	}
	return os.WriteFile(s.knownHosts, []byte(s.knownHostsLine(hostPub)), 0o644)
}

// knownHostsLine returns a known_hosts line binding pub to this server.
func (s *sshServer) knownHostsLine(pub []byte) string {
	fields := strings.Fields(string(pub))
	return fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.port, fields[0], fields[1])
}

func (s *sshServer) start() error {
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", s.configPath())
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting sshd failed: %w", err)
	}
	s.cmd = cmd
	s.logFile = logFile
	s.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitReady(10 * time.Second); err != nil {
		s.stop()
		log, _ := os.ReadFile(s.logPath)
		return fmt.Errorf("sshd %s on port %d did not start: %v\nsshd log:\n%s", s.name, s.port, err, log)
	}
	return nil
}

// waitReady polls the port until sshd sends its SSH banner.
func (s *sshServer) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	for {
		select {
		case <-s.exited:
			return errors.New("sshd exited")
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			banner, readErr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if readErr == nil && strings.HasPrefix(banner, "SSH-2.0-") {
				return nil
			}
			err = fmt.Errorf("no SSH banner (read %q: %v)", banner, readErr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends sshd with SIGTERM, or SIGKILL when it does not exit in time.
func (s *sshServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.logFile.Close()
}

// mountArgs returns the connection arguments every mount of s needs.
func (s *sshServer) mountArgs() []string {
	return []string{
		"-p", strconv.Itoa(s.port),
		"-o", "IdentityFile=" + s.keys.clientKey,
		"-o", "UserKnownHostsFile=" + s.knownHosts,
	}
}

// sftpBatch runs OpenSSH's sftp client against s with the batch commands
// and returns its combined output.
func (s *sshServer) sftpBatch(commands string) (string, error) {
	cmd := exec.Command("sftp", "-b", "-", "-i", s.keys.clientKey, "-P", strconv.Itoa(s.port),
		"-o", "UserKnownHostsFile="+s.knownHosts, "-o", "BatchMode=yes", "-F", "/dev/null",
		"root@127.0.0.1")
	cmd.Stdin = strings.NewReader(commands)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	return out.String(), err
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

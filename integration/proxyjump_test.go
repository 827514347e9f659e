package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startJumpServer starts a second sshd on loopback to serve as a jump host
// and returns it with a known_hosts file that lists it and fullServer.
func startJumpServer(t *testing.T) (jump *sshServer, knownHosts string) {
	t.Helper()
	requireHarness(t)
	dir := scratchDir(t, "jump")
	jump, err := startSSHServer(baseDir, "jump-"+filepath.Base(dir), fullServer.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jump.stop)

	var lines strings.Builder
	for _, srv := range []*sshServer{jump, fullServer} {
		lines.WriteString(readFile(t, srv.knownHosts))
	}
	knownHosts = filepath.Join(dir, "known_hosts")
	writeFile(t, knownHosts, lines.String(), 0o644)
	return jump, knownHosts
}

// acceptedLogins counts the public key logins that srv logged.
func acceptedLogins(t *testing.T, srv *sshServer) int {
	t.Helper()
	data, err := os.ReadFile(srv.logPath)
	if err != nil {
		t.Fatalf("read sshd log: %v", err)
	}
	return strings.Count(string(data), "Accepted publickey for root")
}

// checkMountWorks writes a file through m and reads it on the server side.
func checkMountWorks(t *testing.T, m *mountedFS) {
	t.Helper()
	writeFile(t, filepath.Join(m.mnt, "through-proxy"), "hello\n", 0o644)
	if got := readFile(t, filepath.Join(m.remote, "through-proxy")); got != "hello\n" {
		t.Errorf("server side of a file written through the mount = %q, want hello", got)
	}
}

func TestProxyJumpOption(t *testing.T) {
	jump, knownHosts := startJumpServer(t)
	remote := scratchDir(t, "remote")
	m := &mountedFS{mnt: scratchDir(t, "mnt"), remote: remote}

	m.run(t, []string{
		"-p", strconv.Itoa(fullServer.port),
		"-o", "IdentityFile=" + fullServer.keys.clientKey,
		"-o", "UserKnownHostsFile=" + knownHosts,
		"-o", fmt.Sprintf("ProxyJump=root@127.0.0.1:%d", jump.port),
		"root@127.0.0.1:" + remote, m.mnt,
	})

	checkMountWorks(t, m)
	if n := acceptedLogins(t, jump); n < 1 {
		t.Errorf("the jump sshd logged %d logins, want at least 1: the mount did not go through it", n)
	}
}

func TestProxyJumpTwoHops(t *testing.T) {
	jump, knownHosts := startJumpServer(t)
	remote := scratchDir(t, "remote")
	m := &mountedFS{mnt: scratchDir(t, "mnt"), remote: remote}
	before := acceptedLogins(t, jump)

	// The same jump host twice is still two hops: the second login reaches
	// the jump sshd through its own first connection. The escaped comma
	// keeps both hops in one option.
	hop := fmt.Sprintf("root@127.0.0.1:%d", jump.port)
	m.run(t, []string{
		"-p", strconv.Itoa(fullServer.port),
		"-o", "IdentityFile=" + fullServer.keys.clientKey,
		"-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "ProxyJump=" + hop + `\,` + hop,
		"root@127.0.0.1:" + remote, m.mnt,
	})

	checkMountWorks(t, m)
	if n := acceptedLogins(t, jump) - before; n < 2 {
		t.Errorf("the jump sshd logged %d new logins, want at least 2, one per hop", n)
	}
}

func TestProxyJumpConfigFile(t *testing.T) {
	jump, knownHosts := startJumpServer(t)
	dir := scratchDir(t, "sshconfig")
	config := filepath.Join(dir, "ssh_config")
	// The jump host entry sets no IdentityFile or UserKnownHostsFile, so
	// the -o options apply to it as well.
	writeFile(t, config, fmt.Sprintf(`Host target
  HostName 127.0.0.1
  Port %d
  User root
  ProxyJump bastion

Host bastion
  HostName 127.0.0.1
  Port %d
  User root
`, fullServer.port, jump.port), 0o644)

	remote := scratchDir(t, "remote")
	m := &mountedFS{mnt: scratchDir(t, "mnt"), remote: remote}
	m.run(t, []string{
		"-F", config,
		"-o", "IdentityFile=" + fullServer.keys.clientKey,
		"-o", "UserKnownHostsFile=" + knownHosts,
		"target:" + remote, m.mnt,
	})

	checkMountWorks(t, m)
	if n := acceptedLogins(t, jump); n < 1 {
		t.Errorf("the jump sshd logged %d logins, want at least 1: ssh_config's ProxyJump was not used", n)
	}
}

func TestProxyJumpHostKeyChecked(t *testing.T) {
	jump, _ := startJumpServer(t)
	mnt := scratchDir(t, "mnt")

	// fullServer's known_hosts lists the target only, so the jump host's
	// key is unknown and the mount must fail at the first hop.
	res := runGosshfs(t,
		"-p", strconv.Itoa(fullServer.port),
		"-o", "IdentityFile="+fullServer.keys.clientKey,
		"-o", "UserKnownHostsFile="+fullServer.knownHosts,
		"-o", fmt.Sprintf("ProxyJump=root@127.0.0.1:%d", jump.port),
		"root@127.0.0.1:"+scratchDir(t, "remote"), mnt)

	if res.err == nil {
		t.Cleanup(func() { forceUnmount(mnt) })
		t.Fatalf("mount through a jump host with an unknown key succeeded, want a failure")
	}
	wantHop := fmt.Sprintf("jump host 1 of 1 (root@127.0.0.1:%d)", jump.port)
	for _, want := range []string{wantHop, "host key of [127.0.0.1]:" + strconv.Itoa(jump.port) + " is unknown"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr = %q, want it to contain %q", res.stderr, want)
		}
	}
	if isMounted(mnt) {
		t.Errorf("%s is mounted after the failed command", mnt)
	}
}

// relayScript is a netcat for ProxyCommand: it connects to argv[1]:argv[2],
// writes its pid to argv[3] and copies both directions until either ends.
const relayScript = `import os, socket, sys, threading
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
with open(sys.argv[3], "w") as f:
    f.write(str(os.getpid()))
def upstream():
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
threading.Thread(target=upstream, daemon=True).start()
while True:
    data = sock.recv(65536)
    if not data:
        break
    os.write(1, data)
`

func TestProxyCommandRelay(t *testing.T) {
	requireHarness(t)
	dir := scratchDir(t, "proxycommand")
	script := filepath.Join(dir, "relay.py")
	pidFile := filepath.Join(dir, "relay.pid")
	writeFile(t, script, relayScript, 0o644)

	// /usr/bin/python3 rather than a PATH lookup, because the daemon
	// runs the command with the environment of the mount command.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("ProxyCommand test needs %s: %v", python, err)
	}
	m := mountRemoteDir(t, fullServer, scratchDir(t, "remote"),
		"-o", "ProxyCommand="+python+" "+script+" %h %p "+pidFile)

	checkMountWorks(t, m)
	pidText, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the ProxyCommand did not run: %v", err)
	}
	pid, err := strconv.Atoi(string(pidText))
	if err != nil {
		t.Fatalf("invalid pid %q in %s", pidText, pidFile)
	}

	m.teardown(t)
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && processState(pid) != 'Z' {
		if time.Now().After(deadline) {
			t.Errorf("ProxyCommand process %d still runs 10 s after the unmount", pid)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

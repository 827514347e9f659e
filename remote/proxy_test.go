package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// relayAddressVariable makes the test binary relay its standard input and
// output to a TCP address, standing in for nc in ProxyCommand tests.
const relayAddressVariable = "GOSSHFS_TEST_RELAY_ADDRESS"

func relayStdio(address string) int {
	conn, err := net.Dial("tcp", address)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	go func() {
		io.Copy(conn, os.Stdin)
		conn.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(os.Stdout, conn)
	return 0
}

// relayCommand returns a ProxyCommand that relays to 127.0.0.1:%p through
// this test binary.
func relayCommand(t *testing.T) string {
	t.Helper()
	executable, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return "env " + relayAddressVariable + "=%h:%p " + executable
}

func TestParseProxyJump(t *testing.T) {
	tests := []struct {
		in   string
		want []jumpSpec
	}{
		{"bastion", []jumpSpec{{host: "bastion"}}},
		{"alice@bastion:2222", []jumpSpec{{user: "alice", host: "bastion", port: 2222}}},
		{"a,bob@b:23", []jumpSpec{{host: "a"}, {user: "bob", host: "b", port: 23}}},
		{"ssh://carol@c.example:2200", []jumpSpec{{user: "carol", host: "c.example", port: 2200}}},
		{"[::1]:2222", []jumpSpec{{host: "::1", port: 2222}}},
		{"dave@[fe80::1]", []jumpSpec{{user: "dave", host: "fe80::1"}}},
		{"::1", []jumpSpec{{host: "::1"}}},
		{"us@er@host", []jumpSpec{{user: "us@er", host: "host"}}},
	}
	for _, tt := range tests {
		got, err := parseProxyJump(tt.in)
		if err != nil {
			t.Errorf("parseProxyJump(%q): %v", tt.in, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("parseProxyJump(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}

	for _, bad := range []string{"", "a,,b", "@host", "host:0", "host:99999", "host:x", "[::1", "[::1]x", "user@", "ssh://host/path", ":22"} {
		if _, err := parseProxyJump(bad); err == nil {
			t.Errorf("parseProxyJump(%q) succeeded, want an error", bad)
		}
	}
}

const proxyConfig = `
Host cmdfirst
  HostName 10.0.0.1
  ProxyCommand connect %r@%h:%p %n %%
  ProxyJump ignored

Host jumpfirst
  ProxyJump j1,j2
Host disabled
  ProxyJump none
Host *
  ProxyCommand wildcard %h
`

func TestResolveProxyPrecedence(t *testing.T) {
	home := setupHome(t)
	configFile := filepath.Join(home, "config")
	writeFile(t, configFile, proxyConfig)
	base := Options{ConfigFile: configFile, User: "u", Port: 2200}

	tests := []struct {
		host, optionJump, optionCommand string
		wantJump, wantCommand           string
	}{
		{host: "cmdfirst", wantCommand: "connect u@10.0.0.1:2200 cmdfirst %"},
		{host: "jumpfirst", wantJump: "j1,j2"},
		{host: "other", wantCommand: "wildcard other"},
		{host: "disabled"},
		{host: "cmdfirst", optionJump: "opt", wantJump: "opt"},
		{host: "jumpfirst", optionCommand: "nc %h %p", wantCommand: "nc jumpfirst 2200"},
		{host: "jumpfirst", optionJump: "none"},
		{host: "other", optionCommand: "none"},
	}
	for _, tt := range tests {
		o := base
		o.Host, o.ProxyJump, o.ProxyCommand = tt.host, tt.optionJump, tt.optionCommand
		s, _, err := resolveSettings(o)
		if err != nil {
			t.Errorf("%s (-o ProxyJump=%q ProxyCommand=%q): %v", tt.host, tt.optionJump, tt.optionCommand, err)
			continue
		}
		if s.proxyJump != tt.wantJump || s.proxyCommand != tt.wantCommand {
			t.Errorf("%s (-o ProxyJump=%q ProxyCommand=%q): proxyJump %q, proxyCommand %q; want %q, %q",
				tt.host, tt.optionJump, tt.optionCommand, s.proxyJump, s.proxyCommand, tt.wantJump, tt.wantCommand)
		}
	}

	o := base
	o.Host, o.ProxyJump, o.ProxyCommand = "x", "a", "b"
	if _, _, err := resolveSettings(o); err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("both ProxyJump and ProxyCommand: error = %v, want one saying they exclude each other", err)
	}
	o.Host, o.ProxyJump, o.ProxyCommand = "x", "a,,b", ""
	if _, _, err := resolveSettings(o); err == nil || !strings.Contains(err.Error(), "empty jump host") {
		t.Errorf("ProxyJump a,,b: error = %v, want an empty jump host error", err)
	}
	o.ProxyJump, o.ProxyCommand = "", "nc %x"
	if _, _, err := resolveSettings(o); err == nil || !strings.Contains(err.Error(), "unknown token %x") {
		t.Errorf("ProxyCommand with %%x: error = %v, want an unknown token error", err)
	}
}

func TestResolveJumpHostsFallback(t *testing.T) {
	home := setupHome(t)
	configFile := filepath.Join(home, "config")
	writeFile(t, configFile, `
Host j0
  HostName 10.0.0.10
  User zero
Host j1
  HostName 10.0.0.11
  ProxyJump j0
  IdentityFile /keys/j1
  UserKnownHostsFile /known/j1
  StrictHostKeyChecking accept-new
Host j2
  Port 2202
  ProxyJump j9
  ConnectTimeout 7
`)
	o := Options{
		Host: "target", ConfigFile: configFile,
		IdentityFiles: []string{"/keys/option"}, KnownHostsFiles: []string{"/known/option"},
		StrictHostKeyChecking: "no", ConnectTimeout: 3 * time.Second, IdentitiesOnly: "yes",
	}
	_, env, err := resolveSettings(o)
	if err != nil {
		t.Fatal(err)
	}

	hops, err := resolveJumpHosts("j1,admin@j2", o, env, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, hop := range hops {
		names = append(names, hop.user+"@"+hop.hostName+":"+strconv.Itoa(hop.port))
	}
	want := "zero@10.0.0.10:22 tester@10.0.0.11:22 admin@j2:2202"
	if strings.Join(names, " ") != want {
		t.Fatalf("hops = %q, want %q: j1's own ProxyJump j0 comes first, j2's ProxyJump j9 is ignored", names, want)
	}

	j0, j1, j2 := hops[0], hops[1], hops[2]
	if got := identityPaths(j1); got != "/keys/j1" {
		t.Errorf("j1 identity files = %q, want only ssh_config's /keys/j1", got)
	}
	if got := identityPaths(j2); got != "/keys/option" {
		t.Errorf("j2 identity files = %q, want -o IdentityFile /keys/option", got)
	}
	if got := strings.Join(j1.knownHostsFiles, " "); got != "/known/j1" {
		t.Errorf("j1 known_hosts = %q, want /known/j1", got)
	}
	if got := strings.Join(j0.knownHostsFiles, " "); got != "/known/option" {
		t.Errorf("j0 known_hosts = %q, want -o UserKnownHostsFile /known/option", got)
	}
	if j1.strictHostKeyChecking != "accept-new" || j2.strictHostKeyChecking != "no" {
		t.Errorf("StrictHostKeyChecking j1 %q, j2 %q; want accept-new from ssh_config, no from -o",
			j1.strictHostKeyChecking, j2.strictHostKeyChecking)
	}
	if j2.connectTimeout != 7*time.Second || j0.connectTimeout != 3*time.Second {
		t.Errorf("ConnectTimeout j2 %v, j0 %v; want 7s from ssh_config, 3s from -o", j2.connectTimeout, j0.connectTimeout)
	}
	if !j0.identitiesOnly {
		t.Error("j0 identitiesOnly is false, want -o IdentitiesOnly=yes")
	}
	for _, hop := range hops {
		if hop.proxyJump != "" || hop.proxyCommand != "" {
			t.Errorf("hop %s keeps proxy settings %q %q after the chain was built", hop.alias, hop.proxyJump, hop.proxyCommand)
		}
	}
}

func identityPaths(s settings) string {
	var paths []string
	for _, identity := range s.identityFiles {
		paths = append(paths, identity.path)
	}
	return strings.Join(paths, " ")
}

func TestResolveJumpHostsLoop(t *testing.T) {
	home := setupHome(t)
	configFile := filepath.Join(home, "config")
	writeFile(t, configFile, "Host loop\n  ProxyJump loop\n")
	o := Options{Host: "target", ConfigFile: configFile}
	_, env, err := resolveSettings(o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = resolveJumpHosts("loop", o, env, 0)
	if err == nil || !strings.Contains(err.Error(), "ProxyJump loop") {
		t.Errorf("error = %v, want one about a ProxyJump loop", err)
	}
}

func TestSSHConfigIncludeAndMatchHost(t *testing.T) {
	home := setupHome(t)
	included := filepath.Join(home, "conf.d", "extra.conf")
	writeFile(t, included, "Host inc*\n  Port 2345\n  ProxyJump jump.example\n")
	configFile := filepath.Join(home, "config")
	writeFile(t, configFile, "Include "+filepath.Join(home, "conf.d", "*.conf")+"\n\nMatch host inc*\n  User matched\n")

	s, _, err := resolveSettings(Options{Host: "included", ConfigFile: configFile})
	if err != nil {
		t.Fatal(err)
	}
	if s.port != 2345 {
		t.Errorf("port = %d, want 2345 from the included file", s.port)
	}
	if s.user != "matched" {
		t.Errorf("user = %q, want matched from the Match host block", s.user)
	}
	if s.proxyJump != "jump.example" {
		t.Errorf("proxyJump = %q, want jump.example from the included file", s.proxyJump)
	}

	writeFile(t, configFile, "Match user alice\n  Port 1\n")
	_, _, err = resolveSettings(Options{Host: "h", ConfigFile: configFile})
	if err == nil || !strings.Contains(err.Error(), "unsupported Match criterion") {
		t.Errorf("Match user: error = %v, want the parser's unsupported criterion error", err)
	}
}

// jumpSetup is two jump servers and a target that accept the client key.
type jumpSetup struct {
	client       *clientSetup
	jump1, jump2 *testServer
	target       *testServer
}

func newJumpSetup(t *testing.T) *jumpSetup {
	t.Helper()
	c := newClientSetup(t)
	keys := []ssh.PublicKey{c.signer.PublicKey()}
	j := &jumpSetup{
		client: c,
		jump1:  startTestServer(t, serverOptions{authorizedKeys: keys, forward: true}),
		jump2:  startTestServer(t, serverOptions{authorizedKeys: keys, forward: true}),
		target: startTestServer(t, serverOptions{authorizedKeys: keys}),
	}
	writeFile(t, c.knownHosts, j.jump1.knownHostsLine()+"\n"+j.jump2.knownHostsLine()+"\n"+j.target.knownHostsLine()+"\n")
	return j
}

// options returns Options for the target through the given jump hosts.
func (j *jumpSetup) options(jumps ...*testServer) Options {
	o := j.client.options
	o.Host, o.Port = j.target.host, j.target.port
	var specs []string
	for _, jump := range jumps {
		specs = append(specs, "tester@"+jump.address())
	}
	o.ProxyJump = strings.Join(specs, ",")
	return o
}

func TestDialThroughJumpHosts(t *testing.T) {
	j := newJumpSetup(t)
	d, err := NewDialer(j.options(j.jump1, j.jump2))
	if err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		client, err := dialWith(t, d)
		if err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
		if _, _, err := client.SendRequest(keepaliveRequest, true, nil); err != nil {
			t.Errorf("Dial %d: request to the target failed: %v", i+1, err)
		}
		client.Close()
	}

	if n := j.jump1.forwards.Load(); n != 2 {
		t.Errorf("jump 1 forwarded %d connections, want 2 (one per dial, to jump 2)", n)
	}
	if n := j.jump2.forwards.Load(); n != 2 {
		t.Errorf("jump 2 forwarded %d connections, want 2 (one per dial, to the target)", n)
	}
	if n := j.target.logins.Load(); n != 2 {
		t.Errorf("target saw %d logins, want 2", n)
	}
	waitFor(t, func() bool {
		return j.jump1.active.Load() == 0 && j.jump2.active.Load() == 0
	}, "the jump connections to close after the target connection")
}

func TestDialJumpHostSharesUnlockedKey(t *testing.T) {
	j := newJumpSetup(t)
	encrypted := filepath.Join(j.client.home, "keys", "encrypted")
	publicKey := publicKeyOf(t, writeEncryptedKey(t, encrypted))
	jump := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{publicKey}, forward: true})
	target := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{publicKey}})
	writeFile(t, j.client.knownHosts, jump.knownHostsLine()+"\n"+target.knownHostsLine()+"\n")
	terminal := useFakeTerminal(t, "right")

	o := j.client.options
	o.Host, o.Port = target.host, target.port
	o.IdentityFiles = []string{encrypted}
	o.ProxyJump = "tester@" + jump.address()
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := dialWith(t, d); err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
	}
	if prompts := terminal.promptList(); len(prompts) != 1 {
		t.Errorf("prompts = %q, want one passphrase prompt for the key both hosts use", prompts)
	}
}

func TestDialJumpHostRefused(t *testing.T) {
	j := newJumpSetup(t)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := listener.Addr().(*net.TCPAddr).Port
	listener.Close()

	o := j.options()
	o.ProxyJump = "tester@127.0.0.1:" + strconv.Itoa(closedPort)
	_, err = dial(t, o)

	de := requireDialError(t, err, KindConnectionRefused)
	wantHop := fmt.Sprintf("jump host 1 of 1 (tester@127.0.0.1:%d)", closedPort)
	if de.Hop != wantHop {
		t.Errorf("Hop = %q, want %q", de.Hop, wantHop)
	}
	if !strings.HasPrefix(err.Error(), wantHop+": ") || !strings.Contains(err.Error(), "port in ProxyJump") {
		t.Errorf("message = %q, want it to start with the hop and point at the ProxyJump port", err)
	}
}

func TestDialJumpHostUnknownKey(t *testing.T) {
	j := newJumpSetup(t)
	writeFile(t, j.client.knownHosts, j.target.knownHostsLine()+"\n")

	_, err := dial(t, j.options(j.jump1))

	de := requireDialError(t, err, KindHostKeyUnknown)
	if !strings.HasPrefix(de.Hop, "jump host 1 of 1") {
		t.Errorf("Hop = %q, want jump host 1 of 1", de.Hop)
	}
	if de.Port != j.jump1.port {
		t.Errorf("Port = %d, want the jump host's %d", de.Port, j.jump1.port)
	}
	if !IsPermanent(err) {
		t.Error("IsPermanent = false for an unknown jump host key, want true")
	}
	if n := j.target.logins.Load(); n != 0 {
		t.Errorf("target saw %d logins, want 0", n)
	}
}

func TestDialJumpForwardingFailed(t *testing.T) {
	j := newJumpSetup(t)
	o := j.options(j.jump1)
	j.target.stop()

	_, err := dial(t, o)

	de := requireDialError(t, err, KindForwardingFailed)
	if de.Hop != "" {
		t.Errorf("Hop = %q, want empty: the target could not be reached", de.Hop)
	}
	if de.Via != "tester@"+j.jump1.address() {
		t.Errorf("Via = %q, want tester@%s", de.Via, j.jump1.address())
	}
	if IsPermanent(err) {
		t.Error("IsPermanent = true for a failed forward, want false")
	}
}

func TestDialProxyCommand(t *testing.T) {
	c := newClientSetup(t)
	server := startTestServer(t, serverOptions{authorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}})
	o := c.target(t, server)
	o.ProxyCommand = relayCommand(t)
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		client, err := dialWith(t, d)
		if err != nil {
			t.Fatalf("Dial %d: %v", i+1, err)
		}
		if _, _, err := client.SendRequest(keepaliveRequest, true, nil); err != nil {
			t.Errorf("Dial %d: request through the ProxyCommand failed: %v", i+1, err)
		}
		client.Close()
	}
	if n := server.logins.Load(); n != 2 {
		t.Errorf("server saw %d logins, want 2", n)
	}
}

func TestDialProxyCommandFails(t *testing.T) {
	c := newClientSetup(t)
	o := c.options
	o.Host, o.Port = "127.0.0.1", 22
	o.ProxyCommand = "sh -c 'echo no route to %h >&2; exit 3'"

	_, err := dial(t, o)

	requireDialError(t, err, KindHandshakeFailed)
	for _, want := range []string{"exit status 3", "no route to 127.0.0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}

func TestDialProxyCommandCancelled(t *testing.T) {
	c := newClientSetup(t)
	o := c.options
	o.Host = "127.0.0.1"
	o.ProxyCommand = "sleep 30"
	o.ConnectTimeout = 30 * time.Second
	d, err := NewDialer(o)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.Dial(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Dial returned after %v, want soon after the context ended", elapsed)
	}
}

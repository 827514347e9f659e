package remote

import (
	"sync"
)

// probeDenied switches off the announced extensions whose requests the
// server refuses. OpenSSH's sftp-server -P (and some locked-down setups)
// keep announcing an extension while rejecting every request for it with
// PERMISSION_DENIED, which a real permission error also returns. Each
// probe names a path that does not exist, so a permitted request fails
// with NO_SUCH_FILE (or FAILURE for fsync's made-up handle) and only a
// refused one with PERMISSION_DENIED or OP_UNSUPPORTED. The probes go out
// together and cost one round trip.
func (c *Client) probeDenied(cn *conn) {
	const missing = "/.gosshfs-probe-does-not-exist/x"
	probes := []struct {
		name    string
		payload []byte
		off     func(*Capabilities)
		on      bool
	}{
		{"posix-rename@openssh.com", appendString(appendString(nil, missing), missing+"2"), func(k *Capabilities) { k.PosixRename = false }, c.caps.PosixRename},
		{"hardlink@openssh.com", appendString(appendString(nil, missing), missing+"2"), func(k *Capabilities) { k.Hardlink = false }, c.caps.Hardlink},
		{"statvfs@openssh.com", appendString(nil, "/"), func(k *Capabilities) { k.StatVFS = false }, c.caps.StatVFS},
		{"fsync@openssh.com", appendString(nil, "gosshfs-probe"), func(k *Capabilities) { k.Fsync = false }, c.caps.Fsync},
		{"lsetstat@openssh.com", setAttrs{Flags: attrFlagPermissions, Perm: 0o644}.marshal(appendString(nil, missing)), func(k *Capabilities) { k.Lsetstat = false }, c.caps.Lsetstat},
	}

	var wg sync.WaitGroup
	refused := make([]bool, len(probes))
	for i, p := range probes {
		if !p.on {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := cn.ext.request(p.name, p.payload)
			if err != nil || rep.typ != fxpStatus {
				return
			}
			refused[i] = denied(statusError(rep))
		}()
	}
	wg.Wait()

	c.capMu.Lock()
	defer c.capMu.Unlock()
	for i, p := range probes {
		if refused[i] {
			p.off(&c.caps)
			c.log.Info("the server announces an extension but rejects its requests; using the fallback", "extension", p.name)
		}
	}
}

// denied reports whether err is how a server rejects a request it does not
// allow: OpenSSH's sftp-server -P replies PERMISSION_DENIED, others
// OP_UNSUPPORTED.
func denied(err error) bool {
	code := statusCode(err)
	return code == fxPermissionDenied || code == fxOpUnsupported
}

package main

import "strings"

// ignoredOptions are options that sshfs 3.7, libfuse 3, mount(8) or ssh
// accept and gosshfs does not act on. They are accepted, so existing sshfs
// command lines and fstab entries keep working, and each is reported once.
var ignoredOptions = concatOptions(
	ignored("gosshfs uses its built-in SSH and SFTP client",
		"ssh_command", "ssh_protocol", "sftp_server", "directport", "vsock", "slave", "passive"),
	ignored("not supported: symbolic links are shown as links", "follow_symlinks"),
	ignored("not supported: gosshfs connects before it mounts", "delay_connect"),
	ignored("not supported: the cache size is managed by gosshfs",
		"dcache_max_size", "dcache_clean_interval", "dcache_min_clean_interval",
		"cache_max_size", "cache_clean_interval", "cache_min_clean_interval"),
	ignored("not supported",
		// sshfs 3.7
		"no_readahead", "sshfs_sync", "sync_readdir", "workaround", "disable_hardlink",
		"no_check_root", "direct_io", "writeback_cache",
		// libfuse 3 and its fuse 2 predecessors
		"kernel_cache", "auto_cache", "noauto_cache", "max_read", "max_write", "max_readahead",
		"max_background", "congestion_threshold", "subtype", "blkdev", "blksize", "use_ino",
		"readdir_ino", "hard_remove", "noforget", "remember", "intr", "intr_signal",
		"large_read", "big_writes", "async_read", "sync_read", "atomic_o_trunc",
		"splice_read", "splice_write", "splice_move", "no_splice_read", "no_splice_write",
		"no_splice_move", "clone_fd", "entry_timeout", "negative_timeout", "attr_timeout",
		"ac_attr_timeout", "modules", "allow_root", "auto_unmount", "max_idle_threads",
		"max_threads",
		// mount(8) flags with no FUSE mapping in gosshfs
		"noexec", "sync", "dirsync", "mand", "nomand", "iversion", "noiversion",
		"silent", "loud", "remount"),
	ignored("not supported: access times are kept by the SSH server",
		"atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime",
		"diratime", "nodiratime", "lazytime", "nolazytime"),
	silentlyIgnored(
		// Read by mount(8) itself.
		"defaults", "_netdev", "noauto", "auto", "user", "users", "nouser", "owner",
		"group", "nofail", "comment", "helper",
		// Already how gosshfs behaves.
		"nonempty", "exec", "async"),
	ignoredSSH("compression is not supported", "Compression"),
	ignoredSSH("not supported: gosshfs may still prompt for a passphrase or password", "BatchMode"),
	ignoredSSH("ssh option not supported by gosshfs", unsupportedSSHKeywords...),
)

// prefixOptions match every option whose name starts with theirs. mount(8)
// and systemd read x-* options, for example x-systemd.automount, and pass
// them on to the helper.
var prefixOptions = []*option{
	{name: "x-", kind: kindAny, prefix: true, silent: true},
}

// unsupportedSSHKeywords are the ssh_config(5) keywords of OpenSSH 9, plus a
// few deprecated and vendor spellings still found in configs, that gosshfs
// does not act on when given as -o Keyword=value. Host, Match and Include
// are left out because ssh rejects them on the command line.
var unsupportedSSHKeywords = []string{
	"AddKeysToAgent", "AddressFamily", "BindAddress", "BindInterface",
	"CanonicalDomains", "CanonicalizeFallbackLocal", "CanonicalizeHostname",
	"CanonicalizeMaxDots", "CanonicalizePermittedCNAMEs", "CASignatureAlgorithms",
	"CertificateFile", "ChannelTimeout", "CheckHostIP", "Ciphers", "ClearAllForwardings",
	"ConnectionAttempts", "ControlMaster", "ControlPath", "ControlPersist",
	"DynamicForward", "EnableEscapeCommandline", "EnableSSHKeysign", "EscapeChar",
	"ExitOnForwardFailure", "FingerprintHash", "ForkAfterAuthentication", "ForwardAgent",
	"ForwardX11", "ForwardX11Timeout", "ForwardX11Trusted", "GatewayPorts",
	"GlobalKnownHostsFile", "GSSAPIAuthentication", "GSSAPIDelegateCredentials",
	"HashKnownHosts", "HostbasedAcceptedAlgorithms", "HostbasedAuthentication",
	"HostKeyAlgorithms", "HostKeyAlias", "HostName", "IdentityAgent",
	"IgnoreUnknown", "IPQoS", "KbdInteractiveAuthentication", "KbdInteractiveDevices",
	"KexAlgorithms", "KnownHostsCommand", "LocalCommand", "LocalForward", "LogLevel",
	"LogVerbose", "MACs", "NoHostAuthenticationForLocalhost", "NumberOfPasswordPrompts",
	"ObscureKeystrokeTiming", "PasswordAuthentication", "PermitLocalCommand",
	"PermitRemoteOpen", "PKCS11Provider", "PreferredAuthentications", "ProxyUseFdpass",
	"PubkeyAcceptedAlgorithms", "PubkeyAuthentication",
	"RekeyLimit", "RemoteCommand", "RemoteForward", "RequestTTY", "RequiredRSASize",
	"RevokedHostKeys", "SecurityKeyProvider", "SendEnv", "SessionType", "SetEnv",
	"StdinNull", "StreamLocalBindMask", "StreamLocalBindUnlink", "SyslogFacility",
	"Tag", "TCPKeepAlive", "Tunnel", "TunnelDevice", "UpdateHostKeys", "VerifyHostKeyDNS",
	"VisualHostKey", "XAuthLocation",
	// Deprecated or vendor keywords.
	"ChallengeResponseAuthentication", "PubkeyAcceptedKeyTypes", "HostbasedKeyTypes",
	"Protocol", "Cipher", "UseRoaming", "UseKeychain", "GSSAPIKeyExchange",
	"GSSAPITrustDns", "GSSAPIClientIdentity", "GSSAPIServerIdentity",
	"GSSAPIRenewalForcesRekey", "GSSAPIKexAlgorithms",
}

// Lookup maps built from the tables above.
var (
	optionsByName    = map[string]*option{} // exact names of non-ssh options
	sshOptionsByName = map[string]*option{} // lower-case ssh_config keywords
)

func init() {
	for _, o := range concatOptions(honouredOptions, ignoredOptions, cacheTimeoutAliases()) {
		table, key := optionsByName, o.name
		if o.ssh {
			table, key = sshOptionsByName, strings.ToLower(o.name)
		}
		if table[key] != nil {
			panic("BUG: option " + o.name + " is listed twice")
		}
		table[key] = o
	}
}

// cacheTimeoutAliases returns a row for each of sshfsCacheTimeouts that acts
// as cache_timeout but stays out of the help.
func cacheTimeoutAliases() []*option {
	var rows []*option
	for _, name := range sshfsCacheTimeouts {
		rows = append(rows, &option{name: name, kind: kindSeconds, set: setCacheTimeout})
	}
	return rows
}

func ignored(reason string, names ...string) []*option {
	rows := make([]*option, len(names))
	for i, name := range names {
		rows[i] = &option{name: name, kind: kindAny, ignoreReason: reason}
	}
	return rows
}

func silentlyIgnored(names ...string) []*option {
	rows := make([]*option, len(names))
	for i, name := range names {
		rows[i] = &option{name: name, kind: kindAny, silent: true}
	}
	return rows
}

func ignoredSSH(reason string, names ...string) []*option {
	rows := ignored(reason, names...)
	for _, row := range rows {
		row.ssh = true
	}
	return rows
}

func concatOptions(lists ...[]*option) []*option {
	var all []*option
	for _, list := range lists {
		all = append(all, list...)
	}
	return all
}

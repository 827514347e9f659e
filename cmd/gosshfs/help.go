package main

import (
	"fmt"
	"strings"
)

// usageText is the synopsis at the top of gosshfs -h.
const usageText = `gosshfs [user@]host:[dir] MOUNTPOINT [-p PORT] [-o OPT[,OPT...]]... [-F SSH_CONFIG] [-f] [-d]
gosshfs mount [user@]host:[dir] MOUNTPOINT [options]
gosshfs umount [-z] MOUNTPOINT
gosshfs serve DIR [--listen ADDR] [--authorized-keys FILE] [--state-dir DIR]
gosshfs version`

// description is the paragraph under DESCRIPTION in gosshfs -h.
const description = `Mounts dir on the SSH server at MOUNTPOINT through SFTP and returns once the
mount works; the mount then runs in the background until it is unmounted.
An empty dir means the remote home directory. Write IPv6 hosts in brackets,
for example [::1]:/srv. Options may come before or after the arguments, as
with sshfs, and sshfs command lines and fstab options work unchanged. In
/etc/fstab use the file system type fuse.gosshfs.`

// helpWidth is the line width the option help is wrapped to.
const helpWidth = 80

// optionHelp renders the -o option table for the end of the help text.
func optionHelp() string {
	var b strings.Builder
	b.WriteString("\nMOUNT OPTIONS (-o NAME[=VALUE][,NAME[=VALUE]]..., -o may be repeated):\n")
	for _, group := range helpGroups {
		fmt.Fprintf(&b, "\n   %s:\n", group)
		for _, o := range honouredOptions {
			if o.group != group {
				continue
			}
			fmt.Fprintf(&b, "     %s\n", optionSynopsis(o))
			writeWrapped(&b, optionDescription(o), "         ")
		}
	}
	b.WriteString("\n")
	writeWrapped(&b, "The sshfs spellings cache_stat_timeout, cache_dir_timeout, cache_link_timeout "+
		"and dcache_timeout, dcache_stat_timeout, dcache_dir_timeout and dcache_link_timeout set "+
		"cache_timeout. Every other option that sshfs, libfuse or mount(8) accepts, and every "+
		"ssh_config keyword given as Keyword=value, is accepted, and gosshfs names each one it "+
		"ignores in a warning. Unknown options are an error.", "   ")
	return b.String()
}

func optionSynopsis(o *option) string {
	if o.kind == kindFlag {
		return o.name
	}
	return o.name + "=" + o.placeholder
}

func optionDescription(o *option) string {
	text := strings.ToUpper(o.help[:1]) + o.help[1:] + "."
	if o.defaultText != "" {
		text += " Default: " + o.defaultText + "."
	}
	return text
}

// writeWrapped writes text as lines of at most helpWidth characters, each
// starting with indent. A word longer than a line gets a line of its own.
func writeWrapped(b *strings.Builder, text, indent string) {
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len(line)+1+len(word) > helpWidth {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
}

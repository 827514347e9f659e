package main

import "strings"

// flagSpec lists the flags of one command, as reorderArgs needs them.
type flagSpec struct {
	// valueFlags are the flag names, without dashes, that take a value.
	valueFlags []string
	// boolFlags are the flag names that take none.
	boolFlags []string
}

func (s flagSpec) takesValue(name string) bool { return contains(s.valueFlags, name) }
func (s flagSpec) isFlag(name string) bool     { return s.takesValue(name) || contains(s.boolFlags, name) }

var (
	mountFlagSpec = flagSpec{
		valueFlags: []string{"o", "p", "port", "F", "ssh-config", "log-format"},
		boolFlags:  []string{"f", "foreground", "d", "debug", "V", "version", "h", "help", "C", "s"},
	}
	umountFlagSpec = flagSpec{boolFlags: []string{"z", "lazy", "h", "help"}}
	serveFlagSpec  = flagSpec{
		valueFlags: []string{"listen", "authorized-keys", "state-dir"},
		boolFlags:  []string{"d", "debug", "h", "help"},
	}
	statusFlagSpec = flagSpec{boolFlags: []string{"json", "h", "help"}}
	plainFlagSpec  = flagSpec{boolFlags: []string{"h", "help"}}
)

// commandFlagSpecs maps every subcommand name and alias that urfave/cli
// dispatches on to its flags.
var commandFlagSpecs = map[string]flagSpec{
	"mount":      mountFlagSpec,
	"umount":     umountFlagSpec,
	"unmount":    umountFlagSpec,
	"serve":      serveFlagSpec,
	"status":     statusFlagSpec,
	"refresh":    plainFlagSpec,
	"completion": plainFlagSpec,
	"manpage":    plainFlagSpec,
	"version":    plainFlagSpec,
	"help":       plainFlagSpec,
	"h":          plainFlagSpec,
}

// reorderArgs moves flags in front of positional arguments, because
// urfave/cli, like Go's flag package, stops parsing flags at the first
// positional argument while sshfs and mount(8) put options after them. A
// subcommand name stays first. Glued forms are split: -oro becomes -o ro,
// -p2222 becomes -p 2222 and -fd becomes -f -d. Arguments after "--" stay
// positional, and "--" is kept in front of the positionals whenever one of
// them could be read as a flag.
func reorderArgs(args []string) []string {
	var command string
	spec := mountFlagSpec
	if i := firstPositional(args, spec); i >= 0 {
		if commandSpec, ok := commandFlagSpecs[args[i]]; ok {
			command, spec = args[i], commandSpec
			args = append(append([]string{}, args[:i]...), args[i+1:]...)
		}
	}

	flags, positionals, sawDashDash := partitionArgs(args, spec)

	var out []string
	if command != "" {
		out = append(out, command)
	}
	out = append(out, flags...)
	if sawDashDash || anyStartsWithDash(positionals) {
		out = append(out, "--")
	}
	return append(out, positionals...)
}

// partitionArgs splits args into flags (with their values) and positional
// arguments, reading flags as spec defines them.
func partitionArgs(args []string, spec flagSpec) (flags, positionals []string, sawDashDash bool) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if sawDashDash || arg == "-" || !strings.HasPrefix(arg, "-") {
			positionals = append(positionals, arg)
			continue
		}
		if arg == "--" {
			sawDashDash = true
			continue
		}

		split, consumesNext := splitFlag(arg, spec)
		flags = append(flags, split...)
		if consumesNext && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positionals, sawDashDash
}

// splitFlag rewrites one flag argument into the form Go's flag package
// reads, and reports whether the next argument is its value. Unknown flags
// pass through unchanged so that urfave/cli reports them.
func splitFlag(arg string, spec flagSpec) (split []string, consumesNext bool) {
	singleDash := !strings.HasPrefix(arg, "--")
	name := strings.TrimLeft(arg, "-")
	key, _, hasValue := strings.Cut(name, "=")

	if spec.isFlag(key) {
		return []string{arg}, !hasValue && spec.takesValue(key)
	}
	if !singleDash || len(name) < 2 {
		return []string{arg}, false
	}

	if spec.takesValue(name[:1]) {
		return []string{"-" + name[:1], name[1:]}, false
	}

	var letters []string
	for _, letter := range name {
		if !contains(spec.boolFlags, string(letter)) {
			return []string{arg}, false
		}
		letters = append(letters, "-"+string(letter))
	}
	return letters, false
}

// firstPositional returns the index of the first positional argument, or
// -1 when there is none before "--", because after "--" a word such as
// "serve" is a remote or a mount point rather than a subcommand.
func firstPositional(args []string, spec flagSpec) int {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return -1
		}
		if arg == "-" || !strings.HasPrefix(arg, "-") {
			return i
		}
		if _, consumesNext := splitFlag(arg, spec); consumesNext {
			i++
		}
	}
	return -1
}

// anyStartsWithDash reports whether an argument other than "-" would be
// read as a flag.
func anyStartsWithDash(args []string) bool {
	for _, arg := range args {
		if len(arg) > 1 && arg[0] == '-' {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// helperArgs converts the arguments mount(8) passes to a mount helper,
// "SOURCE TARGET [-sfnv] [-N NAMESPACE] [-o OPTIONS] [-t TYPE]" (util-linux
// mount(8), section "External helpers"), into a gosshfs mount command line.
// mount(8)'s -f means "fake": check everything but do not mount, which
// fake reports. -s, -n, -v, -N and -t have no gosshfs meaning and are
// dropped.
func helperArgs(args []string) (out []string, fake bool) {
	var positionals, options []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "-o" && i+1 < len(args):
			options = append(options, "-o", args[i+1])
			i++
		case strings.HasPrefix(arg, "-o") && len(arg) > 2:
			options = append(options, "-o", arg[2:])
		case (arg == "-t" || arg == "-N") && i+1 < len(args):
			i++
		case arg == "-f":
			fake = true
		case arg == "-s" || arg == "-n" || arg == "-v":
		default:
			positionals = append(positionals, arg)
		}
	}
	return append(positionals, options...), fake
}

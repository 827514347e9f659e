package main

import (
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// flagInfo is one command-line flag as the completion scripts and the
// manual page show it. Both are built from the urfave/cli definitions in
// app.go, so they list the same flags as --help.
type flagInfo struct {
	names       []string // with dashes, for example "-p" and "--port"
	placeholder string   // value name, "" for a flag without a value
	usage       string   // help text with the placeholder's backquotes removed
}

// describeFlags returns the visible flags of flags in their order.
func describeFlags(flags []cli.Flag) []flagInfo {
	var infos []flagInfo
	for _, flag := range flags {
		if visible, ok := flag.(cli.VisibleFlag); ok && !visible.IsVisible() {
			continue
		}
		doc, ok := flag.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		info := flagInfo{}
		for _, name := range flag.Names() {
			info.names = append(info.names, dashedName(name))
		}
		// One-letter names first, as manual pages list them.
		sort.SliceStable(info.names, func(i, j int) bool { return len(info.names[i]) < len(info.names[j]) })
		placeholder, usage := splitPlaceholder(doc.GetUsage())
		info.usage = usage
		if doc.TakesValue() {
			info.placeholder = placeholder
			if info.placeholder == "" {
				info.placeholder = "VALUE"
			}
		}
		infos = append(infos, info)
	}
	return infos
}

// dashedName writes a flag name as it is typed: -p for one letter, --port
// for longer names.
func dashedName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// splitPlaceholder returns the `NAME` that urfave/cli reads as a flag's
// value name from its usage text, and the text without the backquotes.
func splitPlaceholder(usage string) (placeholder, text string) {
	start := strings.IndexByte(usage, '`')
	if start < 0 {
		return "", usage
	}
	end := strings.IndexByte(usage[start+1:], '`')
	if end < 0 {
		return "", usage
	}
	end += start + 1
	return usage[start+1 : end], usage[:start] + usage[start+1:end] + usage[end+1:]
}

// commandInfo is one subcommand for the completion scripts and the manual
// page.
type commandInfo struct {
	names     []string // name first, then aliases
	usage     string
	usageText string
	flags     []flagInfo
}

// describeCommands returns the subcommands of app in their order.
func describeCommands(app *cli.App) []commandInfo {
	var infos []commandInfo
	for _, command := range app.Commands {
		if command.Hidden {
			continue
		}
		infos = append(infos, commandInfo{
			names:     command.Names(),
			usage:     command.Usage,
			usageText: command.UsageText,
			flags:     describeFlags(command.Flags),
		})
	}
	return infos
}

// visibleOptions returns the -o options that the help lists, in its order.
func visibleOptions() []*option {
	var options []*option
	for _, group := range helpGroups {
		for _, o := range honouredOptions {
			if o.group == group {
				options = append(options, o)
			}
		}
	}
	return options
}

// optionChoices returns the canonical values of a kindChoice option,
// sorted, without the synonyms it also accepts.
func optionChoices(o *option) []string {
	seen := map[string]bool{}
	var values []string
	for _, value := range o.choices {
		if !seen[value] {
			seen[value] = true
			values = append(values, value)
		}
	}
	sort.Strings(values)
	return values
}

// shortHelp returns the first clause of a help text, for completion menus.
func shortHelp(help string) string {
	if i := strings.Index(help, "; "); i >= 0 {
		help = help[:i]
	}
	return help
}

package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// environment is the process state the commands use: arguments, output
// streams and daemon mode. Tests build one to run commands in-process.
type environment struct {
	argv0          string   // os.Args[0], reused when the daemon re-executes itself
	args           []string // the arguments after argv0, exactly as received
	stdout, stderr io.Writer

	// fake is mount(8)'s -f: check the command line and mount point, then
	// stop without connecting.
	fake bool
	// ready is set in the detached daemon process and reports to the
	// process the user started.
	ready *readyPipe
	// logFormat is --log-format: logFormatText or logFormatJSON.
	logFormat string
}

// optionList collects every -o argument in order. The arguments are split
// at commas later, because libfuse escapes commas with backslashes.
type optionList struct{ values []string }

func (l *optionList) Set(value string) error {
	l.values = append(l.values, value)
	return nil
}

func (l *optionList) String() string { return "" }

// newApp builds the command line. The argument list it runs on must have
// been through reorderArgs.
func newApp(e *environment) *cli.App {
	return &cli.App{
		Name:                      "gosshfs",
		Usage:                     "mount a remote directory over SSH",
		UsageText:                 usageText,
		Description:               description,
		HideVersion:               true,
		Writer:                    e.stdout,
		ErrWriter:                 e.stderr,
		Flags:                     mountFlags(),
		Action:                    e.mountAction,
		OnUsageError:              usageError,
		ExitErrHandler:            func(*cli.Context, error) {},
		CustomAppHelpTemplate:     cli.AppHelpTemplate + optionHelp(),
		DisableSliceFlagSeparator: true,
		Commands: []*cli.Command{
			{
				Name:               "mount",
				Usage:              "mount a remote directory (the default command)",
				UsageText:          "gosshfs mount [user@]host:[dir] MOUNTPOINT [options]",
				Flags:              mountFlags(),
				Action:             e.mountAction,
				OnUsageError:       usageError,
				CustomHelpTemplate: cli.CommandHelpTemplate + optionHelp(),
			},
			{
				Name:         "umount",
				Aliases:      []string{"unmount"},
				Usage:        "unmount a gosshfs mount with fusermount3 -u",
				UsageText:    "gosshfs umount [-z] MOUNTPOINT",
				Flags:        umountFlags(),
				Action:       e.umountAction,
				OnUsageError: usageError,
			},
			{
				Name:         "serve",
				Usage:        "serve a local directory over SFTP for gosshfs clients",
				UsageText:    "gosshfs serve DIR [--listen ADDR] [--authorized-keys FILE] [--state-dir DIR]",
				Flags:        serveFlags(),
				Action:       e.serveAction,
				OnUsageError: usageError,
			},
			{
				Name:         "status",
				Usage:        "list the gosshfs mounts of this user with their connection state and counters",
				UsageText:    "gosshfs status [--json]",
				Flags:        statusFlags(),
				Action:       e.statusAction,
				OnUsageError: usageError,
			},
			{
				Name:         "refresh",
				Usage:        "drop cached metadata and file data of a path on a mount, so the next access asks the server",
				UsageText:    "gosshfs refresh MOUNTPOINT[/PATH]",
				Action:       e.refreshAction,
				OnUsageError: usageError,
			},
			{
				Name:         "completion",
				Usage:        "print the shell completion script for bash or zsh",
				UsageText:    "gosshfs completion bash|zsh",
				Action:       e.completionAction,
				OnUsageError: usageError,
			},
			{
				Name:         "manpage",
				Usage:        "print the manual page in roff format",
				UsageText:    "gosshfs manpage",
				Action:       e.manpageAction,
				OnUsageError: usageError,
			},
			{
				Name:         "version",
				Usage:        "print the version of gosshfs and of its main libraries",
				UsageText:    "gosshfs version",
				Action:       e.versionAction,
				OnUsageError: usageError,
			},
		},
	}
}

// mountFlags returns fresh flag values for one command, so the root command
// and the mount command never share state. reorderArgs must know every
// name here (mountFlagSpec).
func mountFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "port", Aliases: []string{"p"},
			Usage: "TCP `PORT` of the SSH server, 1 to 65535; wins over -o Port= (default: ssh_config or 22)"},
		&cli.GenericFlag{Name: "o", Value: &optionList{},
			Usage: "comma-separated mount `OPTIONS`, see MOUNT OPTIONS below; may be repeated"},
		&cli.StringFlag{Name: "ssh-config", Aliases: []string{"F"},
			Usage: "ssh_config `FILE` to read, or none to read no file (default: ~/.ssh/config)"},
		&cli.BoolFlag{Name: "foreground", DisableDefaultText: true, Aliases: []string{"f"},
			Usage: "stay in the foreground and log to standard error"},
		&cli.BoolFlag{Name: "debug", DisableDefaultText: true, Aliases: []string{"d"},
			Usage: "log every file system operation at debug level; implies -f"},
		&cli.BoolFlag{Name: "version", DisableDefaultText: true, Aliases: []string{"V"},
			Usage: "print the version and exit"},
		&cli.StringFlag{Name: "log-format", Value: logFormatText,
			Usage: "`FORMAT` of log records, text or json (key=value lines or one JSON object per line)"},
		&cli.BoolFlag{Name: "C", Hidden: true, Usage: "sshfs's compression flag, ignored"},
		&cli.BoolFlag{Name: "s", Hidden: true, Usage: "libfuse's single-thread flag, ignored"},
	}
}

func umountFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "lazy", DisableDefaultText: true, Aliases: []string{"z"},
			Usage: "detach the mount now and finish unmounting when it is no longer busy (fusermount3 -uz)"},
	}
}

func serveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "listen", Usage: "TCP `ADDR` to listen on, host:port (default: 127.0.0.1:2222)"},
		&cli.StringFlag{Name: "authorized-keys",
			Usage: "authorized_keys `FILE` of the keys allowed to log in (default: a generated client key)"},
		&cli.StringFlag{Name: "state-dir",
			Usage: "`DIR` that keeps the host key and the generated client key (default: ~/.config/gosshfs/serve)"},
		&cli.BoolFlag{Name: "debug", DisableDefaultText: true, Aliases: []string{"d"}, Usage: "log at debug level"},
	}
}

// usageError turns a flag parsing error into a one-line usage error.
func usageError(_ *cli.Context, err error, _ bool) error {
	return withExitCode(exitUsage, fmt.Errorf("%v: see gosshfs -h", err))
}

// checkArgCount returns a usage error unless the command got want
// positional arguments, named by names.
func checkArgCount(c *cli.Context, names string, want int) error {
	got := c.Args().Len()
	switch {
	case got < want:
		return withExitCode(exitUsage, fmt.Errorf("missing arguments: expected %s: see gosshfs -h", names))
	case got > want:
		return withExitCode(exitUsage, fmt.Errorf("too many arguments %q: expected %s: see gosshfs -h",
			c.Args().Slice()[want:], names))
	}
	return nil
}

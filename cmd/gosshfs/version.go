package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is the gosshfs release, set at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

// versionAction prints gosshfs's version and those of the libraries that
// decide its behaviour.
func (e *environment) versionAction(*cli.Context) error {
	_, err := fmt.Fprint(e.stdout, versionText())
	return err
}

func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gosshfs %s\n", version)

	modules := map[string]string{}
	goVersion := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
		for _, dep := range info.Deps {
			if dep.Replace != nil {
				dep = dep.Replace
			}
			modules[dep.Path] = dep.Version
		}
	}
	for _, lib := range []struct{ name, path string }{
		{"go-fuse", "github.com/hanwen/go-fuse/v2"},
		{"pkg/sftp", "github.com/pkg/sftp"},
	} {
		v := modules[lib.path]
		if v == "" {
			v = "unknown"
		}
		fmt.Fprintf(&b, "%s %s\n", lib.name, v)
	}
	fmt.Fprintf(&b, "built with %s\n", goVersion)
	return b.String()
}

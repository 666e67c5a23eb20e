package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionCmd is "keysmith version" and "keysmith --version": the module
// version, the commit it was built from when the build recorded one, and
// the Go toolchain, on one line for bug reports.
func versionCmd(stdout io.Writer) error {
	fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
	return nil
}

// versionLine says which build this is, from what ReadBuildInfo returned:
// "keysmith v1.2.0 (commit 0123abcd…, 2030-01-02T03:04:05Z, modified) go1.24.2 linux/amd64";
// "(devel)" when the module has no version (built from a checkout).
func versionLine(bi *debug.BuildInfo, ok bool) string {
	version, vcs := "(devel)", ""
	if ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		var rev, at, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			}
		}
		if rev != "" {
			vcs = " (commit " + rev
			if at != "" {
				vcs += ", " + at
			}
			vcs += modified + ")"
		}
	}
	return fmt.Sprintf("keysmith %s%s %s %s/%s", version, vcs, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

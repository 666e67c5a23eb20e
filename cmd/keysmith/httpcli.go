package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/keysmith/keysmith/cli"
)

// useHTTPCLI reports whether a command line is for the CLI over HTTP (package
// cli): the API's resources always; logs and signing-keys only when a server
// or profile is named (--server, KEYSMITH_URL, --profile, KEYSMITH_PROFILE)
// and no database (--db), so that their database mode stays as it was.
func useHTTPCLI(args []string) bool {
	if len(args) == 0 || !cli.IsCommand(args[0]) {
		return false
	}
	if args[0] != "logs" && args[0] != "signing-keys" {
		return true
	}
	if len(args) > 1 && args[1] == "verify" {
		return false
	}
	remote := os.Getenv("KEYSMITH_URL") != "" || os.Getenv("KEYSMITH_PROFILE") != ""
	for _, a := range args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		switch name {
		case "db":
			return false
		case "server", "profile":
			remote = true
		}
	}
	return remote
}

func runHTTPCLI(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.Run(ctx, args, cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv})
}

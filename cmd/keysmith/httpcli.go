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
	args = commandFirst(args)
	if len(args) == 0 || !cli.IsCommand(args[0]) {
		return false
	}
	if args[0] != "logs" && args[0] != "signing-keys" {
		return true
	}
	if len(args) > 1 && args[1] == "verify" {
		return false
	}
	remote := os.Getenv("KEYSMITH_URL") != "" || os.Getenv("KEYSMITH_PROFILE") != "" ||
		cli.HasProfile(cli.Env{Getenv: os.Getenv})
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
	return cli.Run(ctx, commandFirst(args), cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv})
}

// commandFirst moves the connection and output flags written before the
// command (keysmith --server URL tokens list) after it, where the command
// reads them.
func commandFirst(args []string) []string {
	var lead []string
	for len(args) > 0 {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if !strings.HasPrefix(args[0], "--") {
			break
		}
		switch name {
		case "json", "quiet":
			lead, args = append(lead, args[0]), args[1:]
		case "server", "token", "profile":
			if hasValue || len(args) < 2 {
				lead, args = append(lead, args[0]), args[1:]
			} else {
				lead, args = append(lead, args[0], args[1]), args[2:]
			}
		default:
			return append(args, lead...)
		}
	}
	return append(args, lead...)
}

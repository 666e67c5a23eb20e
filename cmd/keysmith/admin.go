package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/password"
	"github.com/keysmith/keysmith/store"
)

// adminCmd holds the operator's commands, run on the server's machine with
// the database itself: whoever can open the database needs no credential.
func adminCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "set-password" {
		fmt.Fprintln(stderr, "keysmith admin: the only admin command is set-password: keysmith admin set-password --email EMAIL [--db DSN]")
		return errUsage
	}
	fs := flagSet("admin set-password", stderr)
	dsn := fs.String("db", app.DefaultDB, "SQLite file path or postgres:// URL")
	email := fs.String("email", "", "e-mail address of the user (required)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(stderr, "keysmith admin set-password: --email is required")
		return errUsage
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	log, _ := newLogger(stderr, "text", "warn")
	// Only the store: a running server shares the database (SQLite in WAL
	// mode, or PostgreSQL) and sees the change at its next request.
	db, err := store.Open(ctx, *dsn, store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	svc := &keysmith.Service{Store: db, Now: keysmith.SystemClock, Passwords: password.New(password.Params{})}
	ctx = keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.Ref{Type: "cli", ID: "admin set-password", DisplayName: "keysmith CLI"}})
	u, err := svc.SetPasswordByEmail(ctx, *email, pw)
	if err != nil {
		if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
			return fmt.Errorf("no user has the e-mail address %s", *email)
		}
		return fmt.Errorf("%s", keysmith.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "Password set for %s (%s). Their sessions have ended; they sign in with the new password.\n", u.Email, u.ID)
	return nil
}

// readPassword prompts for the password twice on a terminal, without echo;
// otherwise it reads the first line of stdin (for scripts).
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "New password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", fmt.Errorf("the two passwords differ; nothing was changed")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no password on stdin; run it on a terminal to be prompted, or give the password as the first line of stdin (keysmith admin set-password … < file)")
	}
	return line, nil
}

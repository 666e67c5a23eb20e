package main

import (
	"bufio"
	"context"
	"encoding/json"
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
	if len(args) > 0 {
		switch args[0] {
		case "set-password":
			return adminSetPassword(ctx, args[1:], stdin, stdout, stderr)
		case "create-token":
			return adminCreateToken(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "keysmith admin: say set-password or create-token:\n"+
		"  keysmith admin set-password --email EMAIL [--db DSN]\n"+
		"  keysmith admin create-token --email EMAIL [--db DSN] [--name NAME] [--json]")
	return errUsage
}

// openAdmin opens the store alone, for an admin command acting as the
// local administrator: a running server shares the database (SQLite in WAL
// mode, or PostgreSQL) and sees the change at its next request. The
// returned context records the command as the actor of its events.
func openAdmin(ctx context.Context, dsn, command string, stderr io.Writer) (context.Context, *store.DB, error) {
	log, _ := newLogger(stderr, "text", "warn")
	// The server indexes the text of the command's events (within
	// seconds; IndexEvery), not the command, which exits at once.
	db, err := store.Open(ctx, dsn, store.Options{Logger: log, IndexEvery: -1})
	if err != nil {
		return nil, nil, err
	}
	ctx = keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.Ref{Type: "cli", ID: "admin " + command, DisplayName: "keysmith CLI"}})
	return ctx, db, nil
}

// adminSetPassword is "keysmith admin set-password".
func adminSetPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flagSet("admin set-password", stderr)
	dsn := fs.String("db", app.DefaultDB, "SQLite file path or postgres:// URL")
	email := fs.String("email", "", "e-mail address of the user (required)")
	if err := parse(fs, args); err != nil {
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
	ctx, db, err := openAdmin(ctx, *dsn, "set-password", stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := &keysmith.Service{Store: db, Now: keysmith.SystemClock, Passwords: password.New(password.Params{})}
	u, err := svc.SetPasswordByEmail(ctx, *email, pw)
	if err != nil {
		return adminError(err, *email)
	}
	fmt.Fprintf(stdout, "Password set for %s (%s). Their sessions have ended; they sign in with the new password.\n", u.Email, u.ID)
	return nil
}

// adminCreateToken is "keysmith admin create-token": a new API token for a
// user whose token is lost (the bootstrap token, say). The secret goes to
// stdout alone on its line, once; what it is goes to stderr, so that
// TOKEN=$(keysmith admin create-token …) holds the secret only.
func adminCreateToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("admin create-token", stderr)
	dsn := fs.String("db", app.DefaultDB, "SQLite file path or postgres:// URL")
	email := fs.String("email", "", "e-mail address of the user who will own the token (required)")
	name := fs.String("name", "keysmith admin create-token", "name of the token")
	asJSON := fs.Bool("json", false, "print the token as JSON, secret included")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(stderr, "keysmith admin create-token: --email is required")
		return errUsage
	}
	ctx, db, err := openAdmin(ctx, *dsn, "create-token", stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := &keysmith.Service{Store: db, Now: keysmith.SystemClock}
	u, t, secret, err := svc.CreateTokenByEmail(ctx, *email, *name)
	if err != nil {
		return adminError(err, *email)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"id": t.ID, "name": t.Name, "owner_id": u.ID,
			"owner_email": u.Email, "created_at": t.CreatedAt, "token": secret.Reveal()})
	}
	fmt.Fprintf(stderr, "API token %s (%q) created for %s (%s), with their rights. It is shown once, below; keep it now.\n",
		t.ID, t.Name, u.Email, u.Role)
	fmt.Fprintln(stdout, secret.Reveal())
	return nil
}

// adminError is err as an admin command says it.
func adminError(err error, email string) error {
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return fmt.Errorf("no user has the e-mail address %s", email)
	}
	return fmt.Errorf("%s", keysmith.ErrorMessage(err))
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

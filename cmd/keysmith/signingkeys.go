package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
)

// oauthFlags are the OAuth settings of serve.
func oauthFlags(fs *flag.FlagSet, cfg *app.Config) {
	fs.StringVar(&cfg.Issuer, "issuer", "", "public URL of this server, the iss of access tokens; stored in the database for every "+
		"replica, and replaces the stored one (default: the stored one, or http://ADDR on first start)")
	fs.StringVar(&cfg.SigningAlg, "signing-alg", "ES256", "algorithm of new JWT signing keys: ES256, EdDSA or RS256")
	fs.DurationVar(&cfg.KeyRotation, "signing-key-rotation", app.DefaultKeyRotation, "replace the signing key when it is this old; negative: never")
	fs.IntVar(&cfg.MaxClientSecrets, "max-client-secrets", keysmith.DefaultMaxClientSecrets, "most secrets one OAuth client may hold")
	// The master key only from the environment: a flag would show it in ps.
	cfg.MasterKey = os.Getenv("KEYSMITH_MASTER_KEY")
}

// signingKeysCmd is "keysmith signing-keys rotate|list".
func signingKeysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprintln(stderr, "keysmith signing-keys: say rotate or list")
		return errUsage
	}
	fs := flagSet("signing-keys "+args[0], stderr)
	dsn := fs.String("db", app.DefaultDB, "SQLite file path or postgres:// URL")
	alg := fs.String("alg", "", "algorithm of the new key: ES256, EdDSA or RS256 (default: that of the current key)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	log, _ := newLogger(stderr, "text", "warn")
	cfg := app.Config{DB: *dsn, Log: log, MasterKey: os.Getenv("KEYSMITH_MASTER_KEY"), KeyRotation: -1, ReadIssuerOnly: true}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if args[0] == "rotate" {
		if *alg == "" {
			*alg = a.OAuth.SigningKeys()[0].Algorithm
		}
		k, err := a.OAuth.Rotate(keysmith.WithAudit(ctx, keysmith.Audit{Actor: keysmith.Ref{Type: "cli", ID: "signing-keys rotate", DisplayName: "keysmith CLI"}}), *alg)
		if err != nil {
			return fmt.Errorf("%s", keysmith.ErrorMessage(err))
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"kid": k.ID, "algorithm": k.Algorithm, "created_at": k.CreatedAt})
		}
		fmt.Fprintf(stdout, "New signing key %s (%s) signs from now on. Running servers on PostgreSQL use it at once; on SQLite within a minute.\n", k.ID, k.Algorithm)
		return nil
	}
	keys := a.OAuth.SigningKeys()
	if *asJSON {
		type keyJSON struct {
			KID       string     `json:"kid"`
			Algorithm string     `json:"algorithm"`
			CreatedAt time.Time  `json:"created_at"`
			RetiredAt *time.Time `json:"retired_at"`
		}
		out := []keyJSON{}
		for _, k := range keys {
			out = append(out, keyJSON{k.ID, k.Algorithm, k.CreatedAt, k.RetiredAt})
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "%-22s  %-6s  %-20s  %s\n", "KID", "ALG", "CREATED", "STATUS")
	for _, k := range keys {
		status := "signing"
		if k.RetiredAt != nil {
			status = "retired " + k.RetiredAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%-22s  %-6s  %-20s  %s\n", k.ID, k.Algorithm, k.CreatedAt.Format(time.RFC3339), status)
	}
	return nil
}

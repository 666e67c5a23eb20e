package app_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/storetest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMasterKey(t *testing.T) {
	t.Run("SQLiteMakesA0600KeyFileOnFirstStart", func(t *testing.T) {
		dsn := storetest.SQLite(t)
		a, err := app.Open(context.Background(), app.Config{DB: dsn, Log: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		st, err := os.Stat(app.MasterKeyFile(dsn))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, mode %v", err, st)
		}
		// The second start reads the same key and opens the signing keys.
		a, err = app.Open(context.Background(), app.Config{DB: dsn, Log: quiet()})
		if err != nil {
			t.Fatalf("second start: %v", err)
		}
		a.Close()
		// A file others can read is refused.
		os.Chmod(app.MasterKeyFile(dsn), 0o644)
		if _, err := app.Open(context.Background(), app.Config{DB: dsn, Log: quiet()}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("readable key file: %v", err)
		}
	})

	t.Run("WrongKeyRefusesToStart", func(t *testing.T) {
		dsn := storetest.SQLite(t)
		a, err := app.Open(context.Background(), app.Config{DB: dsn, Log: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		_, err = app.Open(context.Background(), app.Config{DB: dsn, Log: quiet(), MasterKey: oauth.NewMasterKey().Encode()})
		if err == nil || !strings.Contains(err.Error(), "cannot be decrypted with this master key") {
			t.Errorf("wrong master key: %v", err)
		}
	})

	t.Run("PostgreSQLWithoutKeyRefusesToStart", func(t *testing.T) {
		dsn := storetest.Postgres(t)
		_, err := app.Open(context.Background(), app.Config{DB: dsn, Log: quiet()})
		if err == nil || !strings.Contains(err.Error(), "KEYSMITH_MASTER_KEY is required with PostgreSQL") {
			t.Fatalf("PostgreSQL without a master key: %v", err)
		}
		var n int
		db, _ := app.Open(context.Background(), app.Config{DB: dsn, Log: quiet(), MasterKey: oauth.NewMasterKey().Encode()})
		defer db.Close()
		db.Store.SQL().QueryRow(`SELECT COUNT(*) FROM signing_keys`).Scan(&n)
		if n != 1 {
			t.Errorf("%d signing keys after the refused start and one good start, want 1", n)
		}
	})

	t.Run("BadKeyIsExplained", func(t *testing.T) {
		_, err := app.Open(context.Background(), app.Config{DB: storetest.SQLite(t), Log: quiet(), MasterKey: "short"})
		if err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("bad key: %v", err)
		}
	})
}

// TestNothingSecretIsStoredInTheClear scans every table for client
// secrets, access tokens, the master key, private key material and the
// secrets of key managers and of the clients registered at them.
func TestNothingSecretIsStoredInTheClear(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		key := oauth.NewMasterKey()
		s := apptest.Start(t, dsn, app.Config{MasterKey: key.Encode(), AllowInsecureKeyManagers: true})
		kmp := apptest.NewDCRProvider(t)
		km := addKeyManager(t, s, kmp, "sealed").String("id")
		ext := s.Do("POST", "/v1/oauth/clients", s.AdminToken, map[string]any{"name": "ext", "environment": "sandbox",
			"key_manager": km}).Want(t, http.StatusCreated)
		extSecret, extRAT := ext.String("client_secret"), kmp.RegistrationAccessToken(ext.String("client_id"))
		c := newClient(t, s, s.AdminToken, map[string]any{})
		extra := s.Do("POST", "/v1/oauth/clients/"+c.ID+"/secrets", s.AdminToken, nil).Want(t, http.StatusCreated).String("client_secret")
		op := newClient(t, s, s.AdminToken, map[string]any{"token_format": "opaque"})
		opTok := accessToken(t, s, op)
		jwtTok := accessToken(t, s, c)
		postForm(t, s, "/v1/oauth/revoke", c.ID, c.Secret, "", map[string][]string{"token": {jwtTok}}).Want(t, http.StatusOK)
		if _, err := s.App.OAuth.Rotate(context.Background(), "RS256"); err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(key.Encode())
		needles := []string{c.Secret, extra, op.Secret, opTok, jwtTok, key.Encode(), hex.EncodeToString(raw),
			base64.RawURLEncoding.EncodeToString(raw), `"d":`, kmp.InitialAccessToken, "introspection-secret-sealed", extSecret, extRAT}
		// The private halves, as a JWK would carry them ("d", "p", "q").
		for _, k := range s.App.OAuth.SigningKeys() {
			var pub map[string]any
			json.Unmarshal([]byte(k.PublicJWK), &pub)
			if _, ok := pub["d"]; ok {
				t.Errorf("key %s: the public JWK holds the private part", k.ID)
			}
			if !strings.HasPrefix(k.PrivateEnc, "v1.") {
				t.Errorf("key %s: private part not sealed: %.10s", k.ID, k.PrivateEnc)
			}
		}
		storetest.AssertNoPlaintext(t, s.App.Store.SQL(), engineOf(dsn), needles...)
	})
}

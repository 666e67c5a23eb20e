package oauth_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/store"
	"github.com/keysmith/keysmith/storetest"
)

// setup opens a fresh SQLite store with an authority of alg and one client
// of format, and returns the client's id and secret.
func setup(b *testing.B, alg string, format keysmith.TokenFormat) (*oauth.Authority, string, string) {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.SQLite(b), store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	svc := &keysmith.Service{Store: db, Now: keysmith.SystemClock}
	u, _, _, err := svc.Bootstrap(ctx, "bench@localhost")
	if err != nil {
		b.Fatal(err)
	}
	c, _, secret, err := svc.CreateClient(ctx, keysmith.Principal{User: u}, keysmith.CreateClientInput{
		Name: "bench", Environment: "sandbox", Scopes: []string{"openid"}, TokenFormat: string(format)})
	if err != nil {
		b.Fatal(err)
	}
	a, err := oauth.New(ctx, db, oauth.Options{Issuer: "http://127.0.0.1:8080", MasterKey: oauth.NewMasterKey(), Algorithm: alg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return a, c.ID, secret.Reveal()
}

// BenchmarkIssueClientCredentials is the token endpoint's work without
// HTTP: authenticate the client (SHA-256 against the cached client), then
// sign a JWT.
func BenchmarkIssueClientCredentials(b *testing.B) {
	for _, alg := range []string{oauth.ES256, oauth.EdDSA, oauth.RS256} {
		b.Run(alg, func(b *testing.B) {
			a, id, secret := setup(b, alg, keysmith.FormatJWT)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c, err := a.AuthenticateClient(ctx, id, secret)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := a.IssueClientCredentials(ctx, c, "read"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkIntrospectJWT is introspection of one live JWT, answered from
// memory (the signature is checked once, then remembered by hash).
func BenchmarkIntrospectJWT(b *testing.B) {
	benchIntrospectOne(b, keysmith.FormatJWT)
}

// BenchmarkIntrospectJWTFirstSight is introspection of a JWT never seen
// before: the signature check itself.
func BenchmarkIntrospectJWTFirstSight(b *testing.B) {
	a, id, secret := setup(b, oauth.ES256, keysmith.FormatJWT)
	ctx := context.Background()
	c, _ := a.AuthenticateClient(ctx, id, secret)
	toks := make([]string, b.N)
	for i := range toks {
		iss, err := a.IssueClientCredentials(ctx, c, "")
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = iss.Token.Reveal()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if in, err := a.Introspect(ctx, toks[i], ""); err != nil || !in.Active {
			b.Fatal(err, in)
		}
	}
}

// BenchmarkIntrospectOpaque is introspection of an opaque token, from the
// cache by hash.
func BenchmarkIntrospectOpaque(b *testing.B) {
	benchIntrospectOne(b, keysmith.FormatOpaque)
}

// benchIntrospectOne introspects one live token of the format, in parallel.
func benchIntrospectOne(b *testing.B, format keysmith.TokenFormat) {
	a, id, secret := setup(b, oauth.ES256, format)
	ctx := context.Background()
	c, _ := a.AuthenticateClient(ctx, id, secret)
	iss, err := a.IssueClientCredentials(ctx, c, "")
	if err != nil {
		b.Fatal(err)
	}
	tok := iss.Token.Reveal()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if in, err := a.Introspect(ctx, tok, ""); err != nil || !in.Active {
				b.Fatal(err, in)
			}
		}
	})
}

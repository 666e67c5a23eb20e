package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/client"
)

// A hello API protected by Keysmith: every request needs a credential with
// the scope hello:read. The README shows the same program
// (TestREADMEShowsTheExample keeps the two alike).
func Example() {
	ks, err := client.New(os.Getenv("KEYSMITH_URL"), "") // verify needs no token
	if err != nil {
		log.Fatal(err)
	}
	v := client.NewVerifier(ks, client.VerifierOptions{ClientIP: client.RemoteIP})
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := client.IdentityFrom(r.Context())
		fmt.Fprintf(w, "hello, %s (credential %s)\n", id.OwnerID, id.TokenID)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /hello", v.Middleware("hello:read")(hello))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// Walking every page of a list with All.
func ExampleAll() {
	c, err := client.New(os.Getenv("KEYSMITH_URL"), os.Getenv("KEYSMITH_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	f := client.TokenFilter{Status: "active"}
	for t, err := range client.All(ctx, func(ctx context.Context, cursor string) (*client.Page[client.Token], error) {
		f.Cursor = cursor
		return c.ListTokens(ctx, f)
	}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(t.ID, t.Name)
	}
}

// Creating a token and checking it as a gateway would.
func ExampleClient_Verify() {
	c, err := client.New(os.Getenv("KEYSMITH_URL"), os.Getenv("KEYSMITH_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	t, err := c.CreateToken(ctx, client.CreateToken{Name: "deploy", Scopes: []string{"orders:read"}})
	if err != nil {
		log.Fatal(err) // an *client.Error says the status and why
	}
	res, err := c.Verify(ctx, client.VerifyRequest{Token: t.Secret, Scopes: []string{"orders:read"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Valid, res.Code)
}

// TestREADMEShowsTheExample fails when the program in the README's Go SDK
// section and Example (which the compiler checks) say different things.
func TestREADMEShowsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	inREADME := between(t, string(readme), "func main() {\n", "\n}\n```")
	inExample := between(t, string(src), "func Example() {\n", "\n}\n")
	if inREADME != inExample {
		t.Fatalf("the README's main is not Example's body:\nREADME:\n%s\nexample_test.go:\n%s", inREADME, inExample)
	}
}

// between is the text of s after the first start and before the next end.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	_, after, ok := strings.Cut(s, start)
	if !ok {
		t.Fatalf("no %q", start)
	}
	body, _, ok := strings.Cut(after, end)
	if !ok {
		t.Fatalf("no %q after %q", end, start)
	}
	return body
}

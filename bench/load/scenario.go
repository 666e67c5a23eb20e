package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Scenario is one kind of request to measure. Keysmith gets it as it is; the
// hello process gets the same method, path, headers and body, so both targets
// parse the same bytes, and is only checked for a 200.
type Scenario struct {
	Name   string // the -scenario value and the name of Keysmith's row in the report
	Method string
	Path   string

	// Setup creates in the running Keysmith what the requests need beyond
	// what init made (the admin user and its token), such as an OAuth client
	// or a zoned token, and records it in fx. It runs once, before any load,
	// through Keysmith's API at fx.BaseURL with c, which only dials loopback.
	// nil means nothing to set up.
	Setup func(ctx context.Context, c *http.Client, fx *Fixture) error

	// Header and Body build the request from the fixture. They run once per
	// target, so every request of a run sends the same bytes. nil means none.
	Header func(fx *Fixture) http.Header
	Body   func(fx *Fixture) []byte

	// Check accepts or rejects one Keysmith response. It runs on every
	// response, inside the timed loop, so it should be cheap.
	Check func(status int, body []byte) error
}

// Fixture is what the scenarios build their requests from. Scenarios that
// need more (an OAuth client's id and secret, a zoned token) add fields here
// and fill them in Setup.
type Fixture struct {
	BaseURL    string // Keysmith's, e.g. http://127.0.0.1:41234
	UserID     string // the admin user made by keysmith init
	AdminToken string // its API token; never printed

	// Filled by the OAuth scenarios' Setup.
	ClientID     string
	ClientSecret string // never printed
	AccessToken  string // a JWT issued to the client; never printed
}

// scenarios is the one list of what -scenario can name. Add new ones here.
var scenarios = []*Scenario{
	{
		Name:   "verify",
		Method: http.MethodPost,
		Path:   "/v1/verify",
		Header: jsonHeader,
		Body: func(fx *Fixture) []byte {
			b, _ := json.Marshal(map[string]string{"token": fx.AdminToken}) // cannot fail for strings
			return b
		},
		Check: checkBodyContains(`"valid":true`),
	},
	{
		// The client_credentials grant with client_secret_basic: client
		// authentication and a signed ES256 JWT per request.
		Name:   "oauth-token",
		Method: http.MethodPost,
		Path:   "/v1/oauth/token",
		Setup:  setupOAuthClient,
		Header: basicFormHeader,
		Body:   func(*Fixture) []byte { return []byte("grant_type=client_credentials") },
		Check:  checkBodyContains(`"access_token"`),
	},
	{
		// RFC 7662 introspection of one live JWT by the client that holds it.
		Name:   "introspect",
		Method: http.MethodPost,
		Path:   "/v1/oauth/introspect",
		Setup:  setupOAuthClient,
		Header: basicFormHeader,
		Body:   func(fx *Fixture) []byte { return []byte(url.Values{"token": {fx.AccessToken}}.Encode()) },
		Check:  checkBodyContains(`"active":true`),
	},
}

// setupOAuthClient creates a sandbox OAuth client through the API and gets
// one access token with it.
func setupOAuthClient(ctx context.Context, c *http.Client, fx *Fixture) error {
	body := strings.NewReader(`{"name":"load","environment":"sandbox","scopes":["read"]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fx.BaseURL+"/v1/oauth/clients", body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+fx.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := doJSON(c, req, http.StatusCreated, &created); err != nil {
		return fmt.Errorf("creating the OAuth client: %w", err)
	}
	fx.ClientID, fx.ClientSecret = created.ClientID, created.ClientSecret
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, fx.BaseURL+"/v1/oauth/token",
		strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return err
	}
	req.Header = basicFormHeader(fx)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(c, req, http.StatusOK, &tok); err != nil {
		return fmt.Errorf("getting an access token: %w", err)
	}
	fx.AccessToken = tok.AccessToken
	return nil
}

// doJSON sends req and decodes a response of status want into v.
func doJSON(c *http.Client, req *http.Request, want int, v any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return statusError(resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// basicFormHeader is a form request authenticated with the client's
// credentials (client_secret_basic).
func basicFormHeader(fx *Fixture) http.Header {
	cred := url.QueryEscape(fx.ClientID) + ":" + url.QueryEscape(fx.ClientSecret)
	return http.Header{
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cred))},
	}
}

// findScenario returns the scenario called name.
func findScenario(name string) (*Scenario, error) {
	for _, sc := range scenarios {
		if sc.Name == name {
			return sc, nil
		}
	}
	return nil, fmt.Errorf("unknown scenario %q: choose one of %s", name, strings.Join(scenarioNames(), ", "))
}

// scenarioNames lists the scenarios for help and error messages.
func scenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for _, sc := range scenarios {
		names = append(names, sc.Name)
	}
	slices.Sort(names)
	return names
}

// jsonHeader is the header of a request with a JSON body.
func jsonHeader(*Fixture) http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

// checkOK accepts any 200 response.
func checkOK(status int, body []byte) error {
	if status != http.StatusOK {
		return statusError(status, body)
	}
	return nil
}

// checkBodyContains accepts a 200 response whose body contains want.
func checkBodyContains(want string) func(int, []byte) error {
	w := []byte(want)
	return func(status int, body []byte) error {
		if status != http.StatusOK {
			return statusError(status, body)
		}
		if !bytes.Contains(body, w) {
			return fmt.Errorf("status 200 without %s in the body: %s", want, clip(body))
		}
		return nil
	}
}

// statusError describes an unexpected status. The body is included, clipped,
// because Keysmith's error bodies say what was wrong.
func statusError(status int, body []byte) error {
	return fmt.Errorf("status %d: %s", status, clip(body))
}

// clip shortens a response body for an error message.
func clip(body []byte) string {
	const max = 200
	s := strings.TrimSpace(string(body))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

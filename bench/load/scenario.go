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

	"github.com/keysmith/keysmith/bench/internal/load"
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

	ZonedToken string // verify-zoned: a token allowed only from one zone; never printed

	ScopedToken string // verify-scoped, verify-permissions: a token with two registered scopes; never printed
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
		Check: load.CheckBodyContains(`"valid":true`),
	},
	{
		// Forward auth as a gateway calls it: a GET with the client's
		// Bearer token, answered by status and headers, no body.
		Name:   "forward-auth",
		Method: http.MethodGet,
		Path:   "/v1/forward-auth",
		Header: func(fx *Fixture) http.Header {
			return http.Header{"Authorization": {"Bearer " + fx.AdminToken}}
		},
		Check: func(status int, _ []byte) error {
			if status != http.StatusOK {
				return fmt.Errorf("status %d, want 200", status)
			}
			return nil
		},
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
		Check:  load.CheckBodyContains(`"access_token"`),
	},
	{
		// RFC 7662 introspection of one live JWT by the client that holds it.
		Name:   "introspect",
		Method: http.MethodPost,
		Path:   "/v1/oauth/introspect",
		Setup:  setupOAuthClient,
		Header: basicFormHeader,
		Body:   func(fx *Fixture) []byte { return []byte(url.Values{"token": {fx.AccessToken}}.Encode()) },
		Check:  load.CheckBodyContains(`"active":true`),
	},
	{
		// verify-zoned is verify with the work a locked-down token adds: an
		// in_zones network policy checked against the gateway's ip among
		// several zones, and a rate-limit count on every request (with a
		// maximum too high to be reached, so every answer is valid).
		Name:   "verify-zoned",
		Method: http.MethodPost,
		Path:   "/v1/verify",
		Setup:  setupZoned,
		Header: jsonHeader,
		Body: func(fx *Fixture) []byte {
			b, _ := json.Marshal(map[string]string{"token": fx.ZonedToken, "ip": "192.0.2.10"})
			return b
		},
		Check: load.CheckBodyContains(`"valid":true`),
	},
	{
		// verify-scoped and verify-permissions are one token with two
		// registered scopes, verified without and with a three-term
		// permission query: run both, one after the other, for what the
		// query costs.
		Name:   "verify-scoped",
		Method: http.MethodPost,
		Path:   "/v1/verify",
		Setup:  setupScoped,
		Header: jsonHeader,
		Body: func(fx *Fixture) []byte {
			b, _ := json.Marshal(map[string]string{"token": fx.ScopedToken})
			return b
		},
		Check: load.CheckBodyContains(`"valid":true`),
	},
	{
		Name:   "verify-permissions",
		Method: http.MethodPost,
		Path:   "/v1/verify",
		Setup:  setupScoped,
		Header: jsonHeader,
		Body: func(fx *Fixture) []byte {
			b, _ := json.Marshal(map[string]string{"token": fx.ScopedToken, "permissions": "bench:a AND (bench:b OR bench:c)"})
			return b
		},
		Check: load.CheckBodyContains(`"valid":true`),
	},
}

// setupScoped registers an API with three scopes and makes a token with two
// of them.
func setupScoped(ctx context.Context, c *http.Client, fx *Fixture) error {
	scopes := []map[string]any{{"name": "bench:a"}, {"name": "bench:b"}, {"name": "bench:c"}}
	if err := apiCall(ctx, c, fx, "POST", "/v1/apis", map[string]any{"name": "bench", "identifier": "urn:bench", "scopes": scopes}, nil); err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	err := apiCall(ctx, c, fx, "POST", "/v1/tokens", map[string]any{"name": "scoped", "scopes": []string{"bench:a", "bench:b"}}, &tok)
	fx.ScopedToken = tok.Token
	return err
}

// setupOAuthClient creates a sandbox OAuth client through the API and gets
// one access token with it.
func setupOAuthClient(ctx context.Context, c *http.Client, fx *Fixture) error {
	body := strings.NewReader(`{"name":"load","environment":"sandbox","scopes":["openid"]}`)
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
		return load.StatusError(resp.StatusCode, b)
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

// setupZoned makes three zones and a token allowed only from the second,
// with the whole verified maximum as its share, and raises that maximum out
// of reach.
func setupZoned(ctx context.Context, c *http.Client, fx *Fixture) error {
	var zone struct {
		ID string `json:"id"`
	}
	for i, gw := range [][]string{{"10.0.0.0/8", "2001:db8::/32"}, {"192.0.2.0/24", "198.51.100.7", "203.0.113.0/25"}, {"172.16.0.0/12"}} {
		var z struct {
			ID string `json:"id"`
		}
		if err := apiCall(ctx, c, fx, "POST", "/v1/zones", map[string]any{"name": fmt.Sprintf("zone %d", i), "gateways": gw}, &z); err != nil {
			return err
		}
		if i == 1 {
			zone = z
		}
	}
	if err := apiCall(ctx, c, fx, "PUT", "/v1/settings/rate-limits", map[string]any{"verified": 1_000_000_000}, nil); err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	err := apiCall(ctx, c, fx, "POST", "/v1/tokens", map[string]any{"name": "zoned", "rate_limit_percent": 100,
		"network": map[string]any{"mode": "in_zones", "zones": []string{zone.ID}}}, &tok)
	fx.ZonedToken = tok.Token
	return err
}

// apiCall sends a JSON request to Keysmith's API as the admin and decodes a
// 2xx answer into out (if not nil).
func apiCall(ctx context.Context, c *http.Client, fx *Fixture, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, fx.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+fx.AdminToken)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, load.StatusError(resp.StatusCode, raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
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

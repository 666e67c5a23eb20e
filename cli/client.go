package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// client calls one server with one credential: an API token, or (during
// login) a session cookie, in which case a reauthentication_required answer
// prompts for the password, re-authenticates and retries once.
type client struct {
	base  string
	token string
	http  *http.Client
	// reauth, when set, proves the password again for a session.
	reauth func(ctx context.Context) error
}

func newClient(base, token string) *client {
	jar, _ := cookiejar.New(nil)
	// Redirects are never followed: Go would resend the body (a password,
	// a verified token) to wherever a proxy points, and the Authorization
	// header to another port or scheme of the same host. The API never
	// redirects; a 3xx is reported as an error.
	return &client{base: strings.TrimRight(base, "/"), token: token,
		http: &http.Client{Timeout: 60 * time.Second, Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// checkServer refuses a server URL the CLI would send credentials to in
// the clear: http only to loopback addresses (a server on this machine).
func checkServer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return usageErr("server %q is not a URL like https://keysmith.example.com", raw)
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if a, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !a.Unmap().IsLoopback()) {
			return usageErr("server %q is plain http: tokens and passwords would cross the network in the clear; use https (http only to localhost)", raw)
		}
	}
	return nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *apiError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("%s (%d %s)", safeText(e.Description), e.Status, safeText(e.Code))
	}
	return fmt.Sprintf("%d %s", e.Status, safeText(firstOf(e.Code, http.StatusText(e.Status))))
}

func exitFor(err *apiError) *exitError {
	code := ExitUsage
	switch {
	case err.Status == http.StatusNotFound:
		code = ExitNotFound
	case err.Status == http.StatusUnauthorized || err.Status == http.StatusForbidden:
		code = ExitNoAccess
	case err.Status >= 500:
		code = ExitServerFail
	}
	return &exitError{code, err.Error()}
}

// do sends a JSON request and decodes a JSON answer into out (when not nil),
// returning the raw body. Errors are *exitError with the exit status.
func (c *client) do(ctx context.Context, method, path string, query map[string]string, body any, out any) ([]byte, error) {
	raw, err := c.send(ctx, method, path, query, body, out)
	if ae, ok := err.(*apiError); ok {
		if ae.Code == "reauthentication_required" && c.reauth != nil {
			if err := c.reauth(ctx); err != nil {
				return nil, err
			}
			raw, err = c.send(ctx, method, path, query, body, out)
			if ae, ok := err.(*apiError); ok {
				return nil, exitFor(ae)
			}
			return raw, err
		}
		return nil, exitFor(ae)
	}
	return raw, err
}

func (c *client) send(ctx context.Context, method, path string, query map[string]string, body any, out any) ([]byte, error) {
	if c.base == "" {
		return nil, usageErr("no server: give --server URL, set KEYSMITH_URL or run keysmith login")
	}
	if err := checkServer(c.base); err != nil {
		return nil, err
	}
	u := c.base + path
	if len(query) > 0 {
		v := url.Values{}
		for k, x := range query {
			v.Set(k, x)
		}
		u += "?" + v.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, usageErr("bad server URL: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.roundTrip(req, out)
}

// form posts an application/x-www-form-urlencoded body (the OAuth endpoints).
func (c *client) form(ctx context.Context, path string, v url.Values, user, pass string, out any) ([]byte, error) {
	if err := checkServer(c.base); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, strings.NewReader(v.Encode()))
	if err != nil {
		return nil, usageErr("bad server URL: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	raw, err := c.roundTrip(req, out)
	if ae, ok := err.(*apiError); ok {
		return nil, exitFor(ae)
	}
	return raw, err
}

func (c *client) roundTrip(req *http.Request, out any) ([]byte, error) {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "keysmith-cli")
	if c.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &exitError{ExitServerFail, fmt.Sprintf("cannot reach the server: %v", err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &exitError{ExitServerFail, fmt.Sprintf("reading the answer: %v", err)}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, &exitError{ExitServerFail, fmt.Sprintf("the server answered %d, a redirect, which the CLI does not follow: give --server the address it leads to (%s)",
			resp.StatusCode, safeText(resp.Header.Get("Location")))}
	}
	if resp.StatusCode >= 400 {
		ae := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(raw, ae)
		ae.Status = resp.StatusCode
		return nil, ae
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, &exitError{ExitServerFail, fmt.Sprintf("the server answered something else than JSON: %v", err)}
		}
	}
	return raw, nil
}

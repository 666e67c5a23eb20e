// Package client is a Go SDK for Keysmith: a typed client for its JSON API
// (New) and net/http middleware that protects a Go API with Keysmith's
// verify endpoint (NewVerifier). It uses the standard library only.
//
// Every call takes a context and goes through one *http.Client (with a
// timeout by default); an API error comes back as an *Error carrying the
// HTTP status, the API's error and error_description and Retry-After.
// Lists answer one Page at a time, with the cursor for the next; All walks
// every page.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds every call of a Client made without WithHTTPClient.
const DefaultTimeout = 10 * time.Second

// maxResponse bounds the body of an answer the client reads, so that a
// misbehaving server cannot make it allocate without limit.
const maxResponse = 16 << 20

// Client calls Keysmith's management API with one API token. It is safe
// for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc (its
// transport, timeout and proxy settings) instead of a client with
// DefaultTimeout. The Client follows no redirects whatever hc's
// CheckRedirect says: Keysmith answers none, so one is an error. nil
// leaves the default.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// noRedirects answers a redirect as the response it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// WithUserAgent sets the User-Agent of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client for the Keysmith server at baseURL (such as
// "https://keysmith.example.com"), authenticating with token (an API
// token, "ks_…"). token may be empty for the calls that need none (Verify).
// baseURL must be an absolute http or https URL.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("keysmith client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("keysmith client: base URL %q must be an absolute http or https URL", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("keysmith client: base URL %q must have no query, fragment or user information", baseURL)
	}
	c := &Client{base: u, token: token, http: &http.Client{Timeout: DefaultTimeout}, userAgent: "keysmith-go-client"}
	for _, o := range opts {
		o(c)
	}
	// A copy, so that the caller's client is left as it was. Following a
	// redirect would turn a POST into a GET elsewhere, and could carry
	// the request to a server that is not Keysmith.
	hc := *c.http
	hc.CheckRedirect = noRedirects
	c.http = &hc
	return c, nil
}

// Error is an error answer of the API (any status outside 2xx).
type Error struct {
	// Status is the HTTP status, such as 404.
	Status int
	// Code is the API's error, such as "not_found" or "invalid_scope".
	Code string `json:"error"`
	// Description is the API's error_description: what was wrong.
	Description string `json:"error_description"`
	// RetryAfter is the Retry-After of a 429 (or 503): how long to wait
	// before trying again; 0 when the answer had none.
	RetryAfter time.Duration
}

// Error says the status, code and description.
func (e *Error) Error() string {
	msg := fmt.Sprintf("keysmith: %d %s", e.Status, e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// StatusOf is the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// retryAfter reads a Retry-After of delay seconds (the form Keysmith
// sends); an HTTP date or anything else is 0.
func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// do sends method path (with query q, and in as JSON when not nil) with the
// client's token and decodes a 2xx answer into out when not nil. Any other
// status is an *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	return c.send(ctx, method, path, q, in, out, true)
}

// send is do, sending the client's token only when auth is true: calls
// that need none (verify) do not hand it to the server needlessly.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in, out any, auth bool) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("keysmith client: encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	// path is escaped already (seg), so it is appended to the escaped
	// base rather than set as url.URL.Path, which would escape it again.
	target := c.base.String() + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("keysmith client: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("keysmith client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("keysmith client: %s %s: reading the answer: %w", method, path, err)
	}
	if len(raw) > maxResponse {
		return fmt.Errorf("keysmith client: %s %s: the answer is larger than %d bytes", method, path, maxResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header)}
		if json.Unmarshal(raw, e) != nil || e.Code == "" {
			e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("keysmith client: %s %s: the answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}

// seg escapes an id for use as one path segment.
func seg(id string) string {
	switch id {
	case ".", "..": // a dot segment would name another path once cleaned
		return strings.ReplaceAll(id, ".", "%2E")
	}
	return url.PathEscape(id)
}

// String shows the Client without its token, so that logging or printing
// it does not leak the secret.
func (c *Client) String() string { return "keysmith.Client(" + c.base.String() + ")" }

// LogValue is String for log/slog.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

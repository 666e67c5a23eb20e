// Package keymanager talks to external key managers (Okta, Keycloak, any
// OpenID provider): it reads their discovery documents and key sets,
// registers clients at them (RFC 7591/7592 and the vendors' own shapes) and
// checks the access tokens they issue. It is the one package that makes
// outbound HTTP calls, and every call goes through HTTP (this file): https
// only, no redirects, bounded in time and size, and the address checked
// after resolution.
package keymanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Options bound outbound calls; the zero value gives the defaults.
type Options struct {
	// AllowInsecure permits plain http, and only to loopback addresses
	// (127.0.0.0/8, ::1): for tests and local development
	// (--allow-insecure-key-managers). Without it only https is used, and
	// never to a loopback address.
	AllowInsecure bool
	// Timeout bounds each call from dial to the last byte. Default 10 s.
	Timeout time.Duration
	// MaxBody bounds an answer's body. Default 1 MiB.
	MaxBody int64
}

// HTTP makes the outbound calls. It is safe for concurrent use.
type HTTP struct {
	client        *http.Client
	allowInsecure bool
	maxBody       int64
}

// NewHTTP returns an HTTP with its own transport: a dialer that refuses
// forbidden addresses after resolution (so a name cannot resolve its way
// past the check), no proxy from the environment, no redirects.
func NewHTTP(opt Options) *HTTP {
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	h := &HTTP{allowInsecure: opt.AllowInsecure, maxBody: opt.MaxBody}
	d := &net.Dialer{Timeout: opt.Timeout, Control: h.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   opt.Timeout,
		ResponseHeaderTimeout: opt.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	h.client = &http.Client{Transport: tr, Timeout: opt.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return h
}

// control is the dialer's check of the resolved address: never the
// unspecified, link-local (cloud metadata lives there) or multicast
// addresses; loopback only when insecure calls are allowed.
func (h *HTTP) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("address %q not understood", address)
	}
	return h.allowedAddr(ap.Addr().Unmap())
}

func (h *HTTP) allowedAddr(a netip.Addr) error {
	switch {
	case a.IsLoopback():
		if !h.allowInsecure {
			return errors.New("refusing a loopback address (start with --allow-insecure-key-managers for local testing)")
		}
	case a.IsUnspecified(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast(), a.IsMulticast(),
		metadataAddrs[a]:
		return fmt.Errorf("refusing address %s: not a host a key manager can be at", a)
	}
	return nil
}

// metadataAddrs are cloud metadata services outside the link-local range
// (Alibaba's, AWS's over IPv6): what they answer is the machine's
// credentials, never a key manager's.
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("100.100.100.200"): true,
	netip.MustParseAddr("fd00:ec2::254"):   true,
}

// CheckURL says whether Keysmith may call u: https (plain http only to a
// loopback host with AllowInsecure), no user info, no fragment. The error
// message is safe to show.
func (h *HTTP) CheckURL(raw string) (*url.URL, error) {
	if len(raw) > 2000 {
		return nil, errors.New("URL longer than 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q holds a user name or password", raw)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%q has a fragment", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !h.allowInsecure || !loopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("%q is not https: key managers are called over https only", raw)
		}
	default:
		return nil, fmt.Errorf("%q is not https: key managers are called over https only", raw)
	}
	return u, nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Response is an answer read in full (up to MaxBody).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// CallError is a failed outbound call. Message is safe to show: it names
// the URL and what went wrong, never a credential.
type CallError struct{ Message string }

func (e *CallError) Error() string { return e.Message }

// Do sends req after checking its URL and reads the answer, refusing one
// larger than MaxBody. Redirects are answered as they are (3xx), never
// followed.
func (h *HTTP) Do(req *http.Request) (*Response, error) {
	if _, err := h.CheckURL(req.URL.String()); err != nil {
		return nil, &CallError{err.Error()}
	}
	target := req.URL.Redacted()
	res, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &CallError{fmt.Sprintf("%s %s: %v", req.Method, target, err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, h.maxBody+1))
	if err != nil {
		return nil, &CallError{fmt.Sprintf("%s %s: reading the answer: %v", req.Method, target, err)}
	}
	if int64(len(body)) > h.maxBody {
		return nil, &CallError{fmt.Sprintf("%s %s: answer larger than %d bytes", req.Method, target, h.maxBody)}
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: body}, nil
}

// GetJSON fetches raw and decodes a 200 answer's JSON into v.
func (h *HTTP) GetJSON(ctx context.Context, raw string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return &CallError{fmt.Sprintf("%q is not a URL Keysmith can call", raw)}
	}
	req.Header.Set("Accept", "application/json")
	res, err := h.Do(req)
	if err != nil {
		return err
	}
	if res.Status != http.StatusOK {
		return &CallError{fmt.Sprintf("GET %s answered %d, not 200%s", req.URL.Redacted(), res.Status, redirectHint(res))}
	}
	if err := json.Unmarshal(res.Body, v); err != nil {
		return &CallError{fmt.Sprintf("GET %s: the answer is not the JSON expected: %v", req.URL.Redacted(), err)}
	}
	return nil
}

func redirectHint(res *Response) string {
	if res.Status >= 300 && res.Status < 400 {
		// Where it leads is not repeated: an answer from inside the
		// network is not for Keysmith to relay.
		return " (a redirect, which Keysmith does not follow: give the address it leads to)"
	}
	return ""
}

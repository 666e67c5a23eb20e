package keysmith

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TrustedOrigin is a web origin (scheme, host and port, as a browser sends
// it in its Origin header) whose pages may call Keysmith's JSON API and
// token endpoints with fetch(): Cross-Origin Resource Sharing. Such calls
// carry a Bearer token or client credentials, never cookies: Keysmith never
// allows credentials cross-origin, so listing an origin grants it nothing a
// page could not already do with a token it holds; it only lets the page
// read the answers.
type TrustedOrigin struct {
	ID        string
	Origin    string // normalised by ParseOrigin
	CreatedAt time.Time
}

// MaxTrustedOrigins bounds the list: every API request with an Origin
// header is matched against it from memory.
const MaxTrustedOrigins = 100

// MaxOriginLen bounds an origin as written, and an Origin header worth
// looking up: a host name is at most 253 characters, and a scheme and port
// add a few.
const MaxOriginLen = 300

// ParseOrigin validates an origin and returns it as browsers serialise it
// (RFC 6454): the scheme and host in lower case, an explicit default port
// (443 for https, 80 for http) dropped, an IPv6 host in brackets in its
// canonical form. Only https is allowed, and http for localhost, 127.0.0.1
// and [::1] (where pages are developed). Userinfo, a path (even "/"), a
// query and a fragment are refused rather than dropped: an origin has none,
// and one given usually means a URL was pasted by mistake. The errors start
// with "origin" and say what to write instead.
func ParseOrigin(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(CodeInvalid, "origin is required, e.g. https://app.example.com")
	}
	if len(s) > MaxOriginLen {
		return "", Errorf(CodeInvalid, "origin may be at most %d characters", MaxOriginLen)
	}
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return "", Errorf(CodeInvalid, "origin %q holds a space, control or non-ASCII character; write an internationalised host name in its xn-- form", s)
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || !strings.Contains(s, "://") {
		return "", Errorf(CodeInvalid, "origin %q is not of the form scheme://host[:port], e.g. https://app.example.com", s)
	}
	switch {
	case u.User != nil:
		return "", Errorf(CodeInvalid, "origin %q holds a user name or password; an origin is only scheme://host[:port]", s)
	case u.Path != "" || u.RawPath != "":
		return "", Errorf(CodeInvalid, "origin %q has a path; an origin is only scheme://host[:port] (did you mean %s://%s?)", s, u.Scheme, u.Host)
	case u.RawQuery != "" || u.ForceQuery:
		return "", Errorf(CodeInvalid, "origin %q has a query; an origin is only scheme://host[:port]", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", Errorf(CodeInvalid, "origin %q has a fragment; an origin is only scheme://host[:port]", s)
	}
	host, err2 := originHost(u.Hostname(), strings.HasPrefix(u.Host, "["))
	if err2 != nil {
		return "", Errorf(CodeInvalid, "origin %q %s", s, err2.Message)
	}
	port, err2 := originPort(u)
	if err2 != nil {
		return "", Errorf(CodeInvalid, "origin %q %s", s, err2.Message)
	}
	switch u.Scheme {
	case "https":
		if port == "443" {
			port = ""
		}
	case "http":
		if host != "localhost" && host != "127.0.0.1" && host != "[::1]" {
			return "", Errorf(CodeInvalid, "origin %q uses http, which is allowed only for localhost, 127.0.0.1 and [::1]; use https", s)
		}
		if port == "80" {
			port = ""
		}
	default:
		return "", Errorf(CodeInvalid, "origin %q has scheme %q; use https (or http for localhost)", s, u.Scheme)
	}
	out := u.Scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out, nil
}

// originHost checks and normalises an origin's host: an IP address, or a
// DNS name of letters, digits and hyphens. bracketed says the host was
// written in brackets (an IPv6 literal).
func originHost(h string, bracketed bool) (string, *Error) {
	if h == "" {
		return "", Errorf(CodeInvalid, "has no host")
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", Errorf(CodeInvalid, "has an IPv6 zone; give a plain address")
		}
		if a.Is6() != bracketed {
			return "", Errorf(CodeInvalid, "has an IPv6 address outside brackets; write it as [%s]", a)
		}
		if a.Is6() {
			return "[" + a.String() + "]", nil
		}
		return a.String(), nil
	}
	if bracketed {
		return "", Errorf(CodeInvalid, "has brackets around something that is not an IPv6 address")
	}
	h = strings.ToLower(h)
	if len(h) > 253 {
		return "", Errorf(CodeInvalid, "has a host name longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", Errorf(CodeInvalid, "has a host that is not a DNS name (labels of 1 to 63 letters, digits and inner hyphens, no wildcard)")
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", Errorf(CodeInvalid, "has a host that is not a DNS name (labels of 1 to 63 letters, digits and inner hyphens, no wildcard)")
			}
		}
	}
	return h, nil
}

// originPort checks an origin's port, if any, and returns it in decimal
// without leading zeros.
func originPort(u *url.URL) (string, *Error) {
	p := u.Port()
	if p == "" {
		if strings.HasSuffix(u.Host, ":") {
			return "", Errorf(CodeInvalid, "has an empty port")
		}
		return "", nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", Errorf(CodeInvalid, "has port %q; a port is a number from 1 to 65535", p)
	}
	return strconv.Itoa(n), nil
}

// CanEditTrustedOrigins: org and super admins manage the trusted origins,
// as they do network zones.
func CanEditTrustedOrigins(u *User) bool { return isOrgWide(u.Role) }

// CanSeeTrustedOrigins: every admin role may read them (they name web
// sites, not secrets); developers may not.
func CanSeeTrustedOrigins(u *User) bool { return IsAdmin(u.Role) }

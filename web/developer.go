package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/oauth"
)

// The developer's entry points (Developer → OAuth clients, Developer → API
// keys): the caller's own clients and keys across all their applications,
// whatever their role, and the WSO2-style "Generate access token" page of a
// client, which issues a token through the token endpoint's own logic
// (Server.OAuth) with a secret the caller pastes.
func (s *Server) developerRoutes(mux *http.ServeMux) {
	mux.Handle("GET /developer/clients", s.page(s.developerClients))
	mux.Handle("GET /developer/keys", s.page(s.developerKeys))
	mux.Handle("GET /developer/clients/{id}/token", s.page(s.clientTokenForm))
	mux.Handle("POST /developer/clients/{id}/token", s.page(s.clientTokenIssue))
}

// developerAppLimit bounds the applications /developer/keys reads keys of.
const developerAppLimit = 50

// ownApps returns the caller's first developerAppLimit applications by id,
// and whether there are more.
func (s *Server) ownApps(r *http.Request, c *Caller) (map[string]*keysmith.App, []*keysmith.App, bool, error) {
	apps, next, err := s.Service.FindApps(r.Context(), c.Principal,
		keysmith.AppFilter{Page: keysmith.Page{Limit: developerAppLimit}, OwnerID: c.User.ID})
	if err != nil {
		return nil, nil, false, err
	}
	byID := make(map[string]*keysmith.App, len(apps))
	for _, a := range apps {
		byID[a.ID] = a
	}
	return byID, apps, next != "", nil
}

// clientRow is a client with its application, when the caller has it.
type clientRow struct {
	*keysmith.Client
	App         *keysmith.App
	CanGenerate bool
}

// developerClients lists the caller's own OAuth clients, all applications
// together (admins too see only their own here; their full list is on the
// applications pages).
func (s *Server) developerClients(w http.ResponseWriter, r *http.Request, c *Caller) error {
	cursor := r.URL.Query().Get("cursor")
	cs, next, err := s.Service.FindClients(r.Context(), c.Principal,
		keysmith.ClientFilter{Page: keysmith.Page{Cursor: cursor}, OwnerID: c.User.ID})
	if err != nil {
		return err
	}
	apps, _, _, err := s.ownApps(r, c)
	if err != nil {
		return err
	}
	rows := make([]clientRow, len(cs))
	for i, cl := range cs {
		rows[i] = clientRow{Client: cl, App: apps[cl.AppID],
			CanGenerate: cl.RevokedAt == nil && keysmith.CanIssueAppCredentials(c.User, cl.OwnerID) &&
				!cl.Public() && !cl.External() && cl.HasGrant(keysmith.GrantClientCredentials)}
	}
	nextURL := ""
	if next != "" {
		nextURL = "/developer/clients?cursor=" + url.QueryEscape(next)
	}
	s.render(w, r, c, http.StatusOK, "developer_clients", "OAuth clients", map[string]any{"Clients": rows, "Next": nextURL})
	return nil
}

// appKeys is one application's keys on /developer/keys.
type appKeys struct {
	App  *keysmith.App
	Keys []appKeyRow
	More bool
}

// developerKeys lists the API keys of the caller's applications (the first
// developerAppLimit of them; the page says when there are more).
func (s *Server) developerKeys(w http.ResponseWriter, r *http.Request, c *Caller) error {
	_, apps, more, err := s.ownApps(r, c)
	if err != nil {
		return err
	}
	now := s.Service.Now()
	var groups []appKeys
	total := 0
	for _, a := range apps {
		ts, next, err := s.Service.FindAppKeys(r.Context(), c.Principal, a.ID, keysmith.TokenFilter{})
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			continue
		}
		g := appKeys{App: a, More: next != ""}
		for _, t := range ts {
			g.Keys = append(g.Keys, appKeyRow{Token: t, Status: t.Status(now)})
		}
		total += len(ts)
		groups = append(groups, g)
	}
	s.render(w, r, c, http.StatusOK, "developer_keys", "API keys", map[string]any{
		"Groups": groups, "Apps": len(apps), "MoreApps": more, "Limit": developerAppLimit, "Total": total,
	})
	return nil
}

// tokenClient returns the client whose token page this is: one the caller
// sees (else 404) and may receive credentials of (else 403).
func (s *Server) tokenClient(r *http.Request, c *Caller) (*keysmith.Client, error) {
	cl, err := s.Service.FindClientByID(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !keysmith.CanIssueAppCredentials(c.User, cl.OwnerID) {
		return nil, keysmith.Errorf(keysmith.CodeForbidden, "only the client's owner and org and super admins generate its access tokens")
	}
	if cl.External() {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "OAuth client %q is registered at an external key manager: its access tokens come from the manager", cl.ID)
	}
	if cl.Public() || !cl.HasGrant(keysmith.GrantClientCredentials) {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "OAuth client %q does not use the client_credentials grant (a public client never does): its access tokens come from the authorization code flow", cl.ID)
	}
	if s.OAuth == nil {
		return nil, keysmith.Errorf(keysmith.CodeInternal, "this console has no OAuth authority to issue tokens")
	}
	return cl, nil
}

// validity says how long the client's tokens live, as the form shows it.
func validity(cl *keysmith.Client) string {
	if cl.TokenTTL < 0 {
		return "never expires"
	}
	return humanDuration(cl.TokenTTL)
}

// humanDuration is a whole duration in words ("1 hour", "90 minutes").
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d/time.Second), "second")
}

func (s *Server) renderTokenForm(w http.ResponseWriter, r *http.Request, c *Caller, cl *keysmith.Client, status int, d map[string]any) {
	d["Client"], d["Validity"] = cl, validity(cl)
	if cl.AppID != "" {
		if a, err := s.Service.FindAppByID(r.Context(), c.Principal, cl.AppID); err == nil {
			d["App"] = a
		}
	}
	issuable := make([]string, 0, len(cl.Scopes))
	for _, sc := range cl.Scopes {
		if !slices.Contains(cl.UnregisteredScopes, sc) {
			issuable = append(issuable, sc)
		}
	}
	d["Scopes"] = issuable
	f, ok := d["Form"].(form)
	if !ok {
		f = form{Values: url.Values{}}
		d["Form"] = f
	}
	checked := map[string]bool{}
	for _, sc := range f.Values["scopes"] {
		checked[sc] = true
	}
	d["Checked"] = checked
	s.render(w, r, c, status, "developer_token", "Generate access token", d)
}

// clientTokenForm shows the form: a secret of the client (pasted, never
// shown again), its scopes, its validity.
func (s *Server) clientTokenForm(w http.ResponseWriter, r *http.Request, c *Caller) error {
	cl, err := s.tokenClient(r, c)
	if err != nil {
		return err
	}
	s.renderTokenForm(w, r, c, cl, http.StatusOK, map[string]any{})
	return nil
}

// clientTokenIssue authenticates the client with the pasted secret and
// issues a token exactly as the token endpoint's client_credentials grant
// does, then shows it once with its decoded claims. The secret is never
// written back into the page.
func (s *Server) clientTokenIssue(w http.ResponseWriter, r *http.Request, c *Caller) error {
	cl, err := s.tokenClient(r, c)
	if err != nil {
		return err
	}
	v := r.PostForm
	kept := url.Values{"scopes": v["scopes"], "validity_seconds": v["validity_seconds"]} // the secret is not kept
	fail := func(field string, err error) error {
		var oe *oauth.Error
		if !errors.As(err, &oe) {
			return err
		}
		msg := oe.Description
		if oe.Code == "invalid_client" && cl.RevokedAt == nil {
			msg = "This is not a current secret of this client (or it has expired). Paste one of its secrets as it was shown when it was created."
		}
		s.renderTokenForm(w, r, c, cl, http.StatusBadRequest, map[string]any{"Form": form{Values: kept, Errors: map[string]string{field: msg}}})
		return nil
	}
	var validity *time.Duration
	if raw := strings.TrimSpace(v.Get("validity_seconds")); raw != "" {
		n, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil || n > 10*365*24*3600 || n < -1 {
			s.renderTokenForm(w, r, c, cl, http.StatusBadRequest, map[string]any{"Form": form{Values: kept,
				Errors: map[string]string{"validity_seconds": "Validity must be a whole number of seconds (-1: never expires, for clients whose tokens never expire)."}}})
			return nil
		}
		d := time.Duration(n) * time.Second
		validity = &d
	}
	iss, err := s.Gate.IssueClientToken(w, r, cl.ID, strings.TrimSpace(v.Get("client_secret")), strings.Join(v["scopes"], " "), validity)
	if keysmith.ErrorCode(err) == keysmith.CodeInvalid {
		s.renderTokenForm(w, r, c, cl, http.StatusBadRequest, map[string]any{"Form": form{Values: kept,
			Errors: map[string]string{"validity_seconds": keysmith.ErrorMessage(err)}}})
		return nil
	}
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.Code == "invalid_client" {
		return fail("client_secret", err)
	}
	if err != nil {
		return fail("scopes", err)
	}
	raw := iss.Token.Reveal()
	d := map[string]any{"Issued": iss, "Form": form{Values: kept},
		"Secret": map[string]any{"ID": "access-token", "Label": "Your access token", "Value": raw}}
	if iss.Record.Format == keysmith.FormatJWT {
		d["Header"], d["Payload"] = decodeJWT(raw)
	}
	if iss.ExpiresIn > 0 {
		d["ExpiresIn"] = humanDuration(time.Duration(iss.ExpiresIn) * time.Second)
	}
	s.renderTokenForm(w, r, c, cl, http.StatusOK, d)
	return nil
}

// decodeJWT returns a compact JWT's header and payload as indented JSON,
// without checking the signature: the token was just issued here.
func decodeJWT(raw string) (header, payload string) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", ""
	}
	pretty := func(seg string) string {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			return ""
		}
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") != nil {
			return ""
		}
		return out.String()
	}
	return pretty(parts[0]), pretty(parts[1])
}

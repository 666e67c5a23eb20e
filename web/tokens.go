package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// The tokens pages: the list (filtered by type or status, searched, sorted,
// paged), the create form with its one-time result, and one token's page
// with its history, network and rate-limit settings, enable/disable,
// rotate, revoke and its system-log events. Every change goes through the
// domain service, which refuses what the role may not do; the pages only
// leave out the buttons it would refuse.
func (s *Server) tokenRoutes(mux *http.ServeMux) {
	mux.Handle("GET /tokens", s.page(s.tokensList))
	mux.Handle("GET /tokens/new", s.page(s.tokenNew))
	mux.Handle("POST /tokens", s.page(s.tokenCreate))
	mux.Handle("GET /tokens/{id}", s.page(s.tokenPage))
	mux.Handle("POST /tokens/{id}/network", s.page(s.tokenNetwork))
	mux.Handle("POST /tokens/{id}/rate-limit", s.page(s.tokenRateLimit))
	mux.Handle("POST /tokens/{id}/enabled", s.page(s.tokenEnabled))
	mux.Handle("POST /tokens/{id}/rotate", s.page(s.tokenRotate))
	mux.Handle("POST /tokens/{id}/revoke", s.page(s.tokenRevoke))
}

// tokenSide is one entry of the list's side navigation.
type tokenSide struct {
	Label   string
	URL     string
	Count   int
	Current bool
}

// tokenSorts are the list's sort keys, as the select offers them.
var tokenSorts = []struct{ Value, Label string }{
	{string(keysmith.SortName), "Name"}, {string(keysmith.SortCreatedAt), "Created"},
	{string(keysmith.SortLastUsedAt), "Last used"}, {string(keysmith.SortExpiresAt), "Expires"},
}

// tokensList is the list of the tokens the caller may see (developers:
// their own; the service decides).
func (s *Server) tokensList(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	f := keysmith.TokenFilter{
		Page:    keysmith.Page{Cursor: q.Get("cursor")},
		OwnerID: q.Get("owner"), // the service narrows it to the caller's own for developers
		Query:   strings.TrimSpace(q.Get("q")), Type: keysmith.TokenType(q.Get("type")),
		Status: keysmith.TokenStatus(q.Get("status")),
		Sort:   keysmith.TokenSort(q.Get("sort")), Order: keysmith.SortOrder(q.Get("order")),
	}
	ts, next, err := s.Service.FindTokens(r.Context(), c.Principal, f)
	if err != nil {
		return err
	}
	sum, err := s.Service.SummarizeTokens(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	nextURL := ""
	if next != "" {
		nextURL = tokensURL(q, "cursor", next, "q", "type", "status", "sort", "order", "owner")
	}
	now := s.Service.Now()
	rows := make([]tokenRow, len(ts))
	for i, t := range ts {
		rows[i] = tokenRow{Token: t, Status: t.Status(now)}
	}
	s.render(w, r, c, http.StatusOK, "tokens_list", "API tokens", map[string]any{
		"Tokens": rows, "Side": tokenSideNav(sum, f, q), "Next": nextURL, "Filter": f, "Sorts": tokenSorts,
		"Sort": q.Get("sort"), "Order": q.Get("order"),
		"CanCreate": keysmith.CanCreateTokens(c.User), "CanSeeUsers": keysmith.CanSeeUsers(c.User),
	})
	return nil
}

// tokensURL is a link to the list keeping the keep parameters of q, with
// k set to v (k "" for none).
func tokensURL(q url.Values, k, v string, keep ...string) string {
	u := url.Values{}
	for _, kk := range keep {
		if x := q.Get(kk); x != "" {
			u.Set(kk, x)
		}
	}
	if k != "" {
		u.Set(k, v)
	}
	if len(u) == 0 {
		return "/tokens"
	}
	return "/tokens?" + u.Encode()
}

// tokenSideNav lists the token types with their counts, then Suspicious (a
// status): each link keeps the search and the order, and starts at page 1.
func tokenSideNav(sum *keysmith.TokenSummary, f keysmith.TokenFilter, q url.Values) []tokenSide {
	link := func(k, v string) string { return tokensURL(q, k, v, "q", "sort", "order") }
	side := []tokenSide{{"All", link("", ""), sum.Total, f.Type == "" && f.Status == ""}}
	for _, t := range []struct {
		typ   keysmith.TokenType
		label string
	}{{keysmith.TokenUser, "User tokens"}, {keysmith.TokenService, "Service tokens"}, {keysmith.TokenAgent, "Agent tokens"}} {
		side = append(side, tokenSide{t.label, link("type", string(t.typ)), sum.ByType[t.typ], f.Type == t.typ && f.Status == ""})
	}
	return append(side, tokenSide{"Suspicious", link("status", string(keysmith.TokenSuspicious)),
		sum.ByStatus[keysmith.TokenSuspicious], f.Status == keysmith.TokenSuspicious && f.Type == ""})
}

// tokenRow is a token with its status derived once.
type tokenRow struct {
	*keysmith.Token
	Status keysmith.TokenStatus
}

// networkModes are the five network policies, as the forms offer them.
var networkModes = []struct{ Value, Label string }{
	{string(keysmith.NetworkAny), "Any IP"},
	{string(keysmith.NetworkInAnyZone), "In any zone"},
	{string(keysmith.NetworkInZones), "In specific zones"},
	{string(keysmith.NetworkNotInAnyZone), "Not in any zone"},
	{string(keysmith.NetworkNotInZones), "Not in specific zones"},
}

// tokenForm is the create form's data: the values as typed and the errors.
type tokenForm struct {
	form
	Modes []struct{ Value, Label string }
	Zones []*keysmith.Zone
	// ZonesHidden: the role may not read zones (developers), so the zone
	// fields take zone ids rather than names.
	ZonesHidden bool
}

func (s *Server) tokenFormData(r *http.Request, c *Caller, f form) (tokenForm, error) {
	zones, err := s.Service.FindZones(r.Context(), c.Principal)
	if err != nil && keysmith.ErrorCode(err) != keysmith.CodeForbidden {
		return tokenForm{}, err
	}
	return tokenForm{form: f, Modes: networkModes, Zones: zones, ZonesHidden: !keysmith.CanSeeZones(c.User)}, nil
}

// tokenNew shows the create form. A role that may not create tokens is
// refused here as the service would refuse the post.
func (s *Server) tokenNew(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !keysmith.CanCreateTokens(c.User) {
		return keysmith.Errorf(keysmith.CodeForbidden, "role %s may not create API tokens", c.User.Role)
	}
	d, err := s.tokenFormData(r, c, form{Values: url.Values{
		"network": {string(keysmith.NetworkAny)}, "rate_limit_percent": {strconv.Itoa(keysmith.DefaultRateLimitPercent)},
	}})
	if err != nil {
		return err
	}
	s.render(w, r, c, http.StatusOK, "token_new", "Create API token", map[string]any{"Form": d})
	return nil
}

// tokenCreate creates a token and shows its secret in this response only
// (201, no redirect): the secret is in no URL, cookie or log, and the page
// is not stored.
func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v := r.PostForm
	in := keysmith.CreateTokenInput{Name: v.Get("name")}
	err := func() error {
		var err error
		if in.Network, err = s.networkFromForm(r, c, v); err != nil {
			return err
		}
		if in.RateLimitPercent, err = percentFromForm(v); err != nil {
			return err
		}
		if in.ExpiresAt, err = expiryFromForm(v.Get("expires_at")); err != nil {
			return err
		}
		return nil
	}()
	var t *keysmith.Token
	var secret keysmith.Secret
	if err == nil {
		t, secret, err = s.Service.CreateToken(r.Context(), c.Principal, in)
	}
	if isFormError(err) {
		d, ferr := s.tokenFormData(r, c, form{Values: v, Errors: formError(err, "name", "network", "zones", "rate_limit_percent", "expires_at")})
		if ferr != nil {
			return ferr
		}
		s.render(w, r, c, http.StatusBadRequest, "token_new", "Create API token", map[string]any{"Form": d})
		return nil
	}
	if err != nil {
		return err
	}
	s.render(w, r, c, http.StatusCreated, "token_new", "Token created", map[string]any{
		"Created": t, "Secret": map[string]any{"ID": "token-secret", "Label": "Your API token", "Value": secret.Reveal()},
	})
	return nil
}

// networkFromForm reads a network policy: the mode, and for the modes that
// list zones the zones field of that mode, comma-separated names (or ids).
func (s *Server) networkFromForm(r *http.Request, c *Caller, v url.Values) (*keysmith.NetworkPolicy, error) {
	p := &keysmith.NetworkPolicy{Mode: keysmith.NetworkMode(v.Get("network"))}
	var field string
	switch p.Mode {
	case keysmith.NetworkInZones:
		field = "zones_in"
	case keysmith.NetworkNotInZones:
		field = "zones_not_in"
	default:
		return p, nil
	}
	var names []string
	for _, n := range strings.Split(v.Get(field), ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "zones: name at least one zone for this network option")
	}
	if !keysmith.CanSeeZones(c.User) {
		p.Zones = names // ids: the store refuses unknown ones
		return p, nil
	}
	zones, err := s.Service.FindZones(r.Context(), c.Principal)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		id := ""
		for _, z := range zones {
			if strings.EqualFold(z.Name, n) || z.ID == n {
				id = z.ID
				break
			}
		}
		if id == "" {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "zones: there is no network zone named %q", truncate(n, 100))
		}
		p.Zones = append(p.Zones, id)
	}
	return p, nil
}

// percentFromForm reads the rate-limit slider (the domain checks the range).
func percentFromForm(v url.Values) (*int, error) {
	s := strings.TrimSpace(v.Get("rate_limit_percent"))
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "rate_limit_percent must be a whole number from 1 to 100")
	}
	return &n, nil
}

// expiryFromForm reads the optional expiry of a date or datetime-local
// input, in UTC (the form says so); a date alone is its start.
func expiryFromForm(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return &t, nil
		}
	}
	return nil, keysmith.Errorf(keysmith.CodeInvalid, "expires_at must be a date and time like 2030-01-31T18:00")
}

// tokenNotices are the confirmations shown after a change (?done=...).
var tokenNotices = map[string]string{
	"network":    "The network option is saved; it applies to the next call.",
	"rate-limit": "The rate limit is saved.",
	"enabled":    "The token is enabled.",
	"disabled":   "The token is disabled: calls with it are refused until it is enabled again.",
	"revoked":    "The token is revoked: every call with it is refused from now on.",
}

// tokenPage shows one token.
func (s *Server) tokenPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	t, err := s.Service.FindTokenByID(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	d, err := s.tokenPageData(r, c, t)
	if err != nil {
		return err
	}
	d["Notice"] = tokenNotices[r.URL.Query().Get("done")]
	s.render(w, r, c, http.StatusOK, "token", t.Name, d)
	return nil
}

// tokenPageData is what the token page shows, with a flag for each action
// the caller's role may take (the service checks again).
func (s *Server) tokenPageData(r *http.Request, c *Caller, t *keysmith.Token) (map[string]any, error) {
	ctx, u := r.Context(), c.User
	st := t.Status(s.Service.Now())
	live := st != keysmith.TokenRevoked
	d := map[string]any{"Token": t, "Status": st, "CanSeeUsers": keysmith.CanSeeUsers(u)}
	d["CreatedBy"] = s.userLabel(r, c, t.CreatedBy, t)

	var owner *keysmith.User
	if t.OwnerID != u.ID {
		owner, _ = s.Service.FindUserByID(ctx, c.Principal, t.OwnerID) // nil: not a service account we can check
	}
	d["CanManage"] = live && keysmith.CanManageToken(u, t)
	d["CanRevoke"] = live && keysmith.CanRevokeToken(u, t)
	d["CanRotate"] = live && st != keysmith.TokenExpired && keysmith.CanRotateToken(u, t, owner) == nil
	if t.Type == keysmith.TokenAgent && t.AgentID != "" {
		if a, err := s.Service.FindAgentByID(ctx, c.Principal, t.AgentID); err == nil {
			d["Agent"] = a
		}
		d["AgentBlocks"] = t.AgentActive // RevokeToken refuses while the agent is active
	}

	zones, err := s.Service.FindZones(ctx, c.Principal)
	if err != nil && keysmith.ErrorCode(err) != keysmith.CodeForbidden {
		return nil, err
	}
	names := map[string]string{}
	for _, z := range zones {
		names[z.ID] = z.Name
	}
	var zoneNames []string
	for _, id := range t.Network.Zones {
		if n, ok := names[id]; ok {
			zoneNames = append(zoneNames, n)
		} else {
			zoneNames = append(zoneNames, id)
		}
	}
	d["ZoneNames"] = zoneNames
	d["NetworkLabel"] = networkLabel(t.Network.Mode)
	vals := url.Values{"network": {string(t.Network.Mode)}, "rate_limit_percent": {strconv.Itoa(t.RateLimitPercent)}}
	switch t.Network.Mode {
	case keysmith.NetworkInZones:
		vals.Set("zones_in", strings.Join(zoneNames, ", "))
	case keysmith.NetworkNotInZones:
		vals.Set("zones_not_in", strings.Join(zoneNames, ", "))
	}
	d["Form"] = tokenForm{form: form{Values: vals}, Modes: networkModes, Zones: zones, ZonesHidden: !keysmith.CanSeeZones(u)}

	if keysmith.CanReadLogs(u) {
		evs, _, err := s.Service.FindEvents(ctx, c.Principal, keysmith.EventFilter{TargetID: t.ID, Page: keysmith.Page{Limit: 10}})
		if err != nil {
			return nil, err
		}
		d["Events"] = evs
		d["CanReadLogs"] = true
	}
	return d, nil
}

// userLabel names a user by e-mail when the caller may see them, else by id.
func (s *Server) userLabel(r *http.Request, c *Caller, id string, t *keysmith.Token) string {
	switch {
	case id == "":
		return ""
	case id == t.OwnerID && t.Owner.Email != "":
		return t.Owner.Email
	case id == c.User.ID:
		return c.User.Email
	}
	if u, err := s.Service.FindUserByID(r.Context(), c.Principal, id); err == nil {
		return u.Email
	}
	return id
}

func networkLabel(m keysmith.NetworkMode) string {
	for _, n := range networkModes {
		if n.Value == string(m) {
			return n.Label
		}
	}
	return string(m)
}

// tokenFormFailed shows the token page again with a form's error beside its
// field, or returns err when it is not the user's to fix.
func (s *Server) tokenFormFailed(w http.ResponseWriter, r *http.Request, c *Caller, id string, err error, fields ...string) error {
	if !isFormError(err) {
		return err
	}
	t, ferr := s.Service.FindTokenByID(r.Context(), c.Principal, id)
	if ferr != nil {
		return ferr
	}
	d, ferr := s.tokenPageData(r, c, t)
	if ferr != nil {
		return ferr
	}
	f := d["Form"].(tokenForm)
	for k, v := range r.PostForm {
		if k != "csrf_token" {
			f.Values[k] = v
		}
	}
	f.Errors = formError(err, fields...)
	d["Form"] = f
	d["Error"] = f.Errors[""]
	s.render(w, r, c, statusOf(keysmith.ErrorCode(err)), "token", t.Name, d)
	return nil
}

// tokenNetwork changes the token's network option; verify applies it to
// the next call.
func (s *Server) tokenNetwork(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	p, err := s.networkFromForm(r, c, r.PostForm)
	if err == nil {
		_, err = s.Service.UpdateToken(r.Context(), c.Principal, id, keysmith.TokenUpdate{Network: p})
	}
	if err != nil {
		return s.tokenFormFailed(w, r, c, id, err, "network", "zones")
	}
	return redirect(w, r, "/tokens/"+url.PathEscape(id)+"?done=network")
}

// tokenRateLimit changes the token's share of every rate limit.
func (s *Server) tokenRateLimit(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	n, err := percentFromForm(r.PostForm)
	if err == nil && n == nil {
		err = keysmith.Errorf(keysmith.CodeInvalid, "rate_limit_percent is required")
	}
	if err == nil {
		_, err = s.Service.UpdateToken(r.Context(), c.Principal, id, keysmith.TokenUpdate{RateLimitPercent: n})
	}
	if err != nil {
		return s.tokenFormFailed(w, r, c, id, err, "rate_limit_percent")
	}
	return redirect(w, r, "/tokens/"+url.PathEscape(id)+"?done=rate-limit")
}

// tokenEnabled disables or enables the token (enabled=true|false).
func (s *Server) tokenEnabled(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	var on bool
	switch r.PostForm.Get("enabled") {
	case "true":
		on = true
	case "false":
	default:
		return keysmith.Errorf(keysmith.CodeInvalid, "enabled must be true or false.")
	}
	if _, err := s.Service.UpdateToken(r.Context(), c.Principal, id, keysmith.TokenUpdate{Enabled: &on}); err != nil {
		return s.tokenFormFailed(w, r, c, id, err)
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	return redirect(w, r, "/tokens/"+url.PathEscape(id)+"?done="+done)
}

// tokenRotate gives the token a new secret, shown in this response only;
// the old secret stops working at once.
func (s *Server) tokenRotate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	t, secret, err := s.Service.RotateToken(r.Context(), c.Principal, r.PathValue("id"), 0)
	if err != nil {
		return s.tokenFormFailed(w, r, c, r.PathValue("id"), err)
	}
	s.render(w, r, c, http.StatusOK, "token_new", "Token rotated", map[string]any{
		"Created": t, "Rotated": true,
		"Secret": map[string]any{"ID": "token-secret", "Label": "The new secret of " + t.Name, "Value": secret.Reveal()},
	})
	return nil
}

// tokenRevoke revokes the token; every replica refuses it from now on.
func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	if _, err := s.Service.RevokeToken(r.Context(), c.Principal, id); err != nil {
		return s.tokenFormFailed(w, r, c, id, err)
	}
	return redirect(w, r, "/tokens/"+url.PathEscape(id)+"?done=revoked")
}

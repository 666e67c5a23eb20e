package web

import (
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

// The keys of an application: its OAuth clients per environment (consumer
// key = client id), their consumer secrets (added, deleted, reset; a new
// secret is shown once) and their settings.
func (s *Server) appClientRoutes(mux *http.ServeMux) {
	mux.Handle("POST /apps/{id}/clients", s.page(s.clientGenerate))
	mux.Handle("POST /apps/{id}/clients/{client}/settings", s.page(s.clientSettings))
	mux.Handle("POST /apps/{id}/clients/{client}/revoke", s.page(s.clientRevoke))
	mux.Handle("POST /apps/{id}/clients/{client}/secrets", s.page(s.secretCreate))
	mux.Handle("POST /apps/{id}/clients/{client}/secrets/reset", s.page(s.secretsReset))
	mux.Handle("POST /apps/{id}/clients/{client}/secrets/{secret}/delete", s.page(s.secretDelete))
	// A shown-once page reloaded is a GET of the address it was posted
	// to (app.js replaces the history entry): back to the application.
	mux.Handle("GET /apps/{id}/clients", s.page(s.clientsBack))
	mux.Handle("GET /apps/{id}/clients/{rest...}", s.page(s.clientsBack))
}

// secretRow is a consumer secret with its expiry judged at the service's
// clock.
type secretRow struct {
	*keysmith.ClientSecret
	Expired bool
}

// scopeChoice is one checkbox of the scope picker.
type scopeChoice struct {
	Name, Description string
	SelfService       bool
	Checked           bool
	// Enabled: the caller may grant it (CanGrantScope), or the client has
	// it already and taking a scope away needs no grant.
	Enabled bool
	// Unregistered: the client names it but no API registers it; it is
	// not issued.
	Unregistered bool
}

// scopeGroup is the scopes of one API (or the client's other scopes).
type scopeGroup struct {
	Label  string
	Scopes []*scopeChoice
}

// option is one choice of a select.
type option struct{ Value, Label string }

// clientView is one OAuth client on the application page.
type clientView struct {
	*keysmith.Client
	// ConsumerKey is the client_id it presents (the manager's for an
	// external client).
	ConsumerKey string
	Secrets     []secretRow
	Settings    form
	NewSecret   form
	ScopeGroups []scopeGroup
	Audiences   []option
	TTLSeconds  int64
	CanManage   bool
	CanIssue    bool
	// CanSetFirstParty: the caller is an org or super admin, who alone
	// see and change the first-party box.
	CanSetFirstParty bool
	// Locked: the client is first-party and the caller may not change it
	// (keysmith.CanChangeFirstParty); they may still revoke it.
	Locked bool
}

// newClientView lays out a client: its secrets, its settings form and the
// scope picker, whose boxes u may not tick are disabled.
func newClientView(cl *keysmith.Client, secs []*keysmith.ClientSecret, apis []*keysmith.API, u *keysmith.User, now time.Time) *clientView {
	cv := &clientView{Client: cl, ConsumerKey: consumerKey(cl), TTLSeconds: ttlSeconds(cl.TokenTTL), NewSecret: form{Values: url.Values{}},
		CanSetFirstParty: keysmith.CanSetFirstParty(u) == nil, Locked: keysmith.CanChangeFirstParty(u, cl, false) != nil}
	for _, sec := range secs {
		cv.Secrets = append(cv.Secrets, secretRow{ClientSecret: sec, Expired: sec.ExpiresAt != nil && !sec.ExpiresAt.After(now)})
	}
	cv.Settings = settingsForm(cl, form{})
	cv.Audiences = []option{{"", "The issuer (default)"}}
	known := map[string]bool{}
	for _, a := range apis {
		cv.Audiences = append(cv.Audiences, option{a.Identifier, a.Name + " (" + a.Identifier + ")"})
		g := scopeGroup{Label: a.Name}
		for _, sc := range a.Scopes {
			known[sc.Name] = true
			g.Scopes = append(g.Scopes, &scopeChoice{Name: sc.Name, Description: sc.Description, SelfService: sc.SelfService,
				Enabled: keysmith.CanGrantScope(u, sc) || slices.Contains(cl.Scopes, sc.Name)})
		}
		if len(g.Scopes) > 0 {
			cv.ScopeGroups = append(cv.ScopeGroups, g)
		}
	}
	if cl.Audience != "" && !slices.ContainsFunc(cv.Audiences, func(o option) bool { return o.Value == cl.Audience }) {
		cv.Audiences = append(cv.Audiences, option{cl.Audience, cl.Audience + " (no registered API)"})
	}
	other := scopeGroup{Label: "Other scopes of this client"}
	for _, n := range cl.Scopes {
		if !known[n] {
			other.Scopes = append(other.Scopes, &scopeChoice{Name: n, Enabled: true,
				Unregistered: slices.Contains(cl.UnregisteredScopes, n)})
		}
	}
	if len(other.Scopes) > 0 {
		cv.ScopeGroups = append(cv.ScopeGroups, other)
	}
	cv.scopeChoices(cv.Settings)
	return cv
}

// settingsForm is the client's settings as stored, or f when it holds
// values (a form shown again with its errors).
func settingsForm(cl *keysmith.Client, f form) form {
	if f.Values != nil {
		return f
	}
	return form{Values: url.Values{"name": {cl.Name}, "scopes": cl.Scopes, "audience": {cl.Audience},
		"token_ttl_seconds":         {strconv.FormatInt(ttlSeconds(cl.TokenTTL), 10)},
		"grant_types":               cl.GrantTypes,
		"redirect_uris":             {strings.Join(cl.RedirectURIs, "\n")},
		"post_logout_redirect_uris": {strings.Join(cl.PostLogoutRedirectURIs, "\n")},
		"pkce_required":             {strconv.FormatBool(cl.PKCERequired)},
		"pkce_allow_plain":          {strconv.FormatBool(cl.PKCEAllowPlain)},
		"first_party":               {strconv.FormatBool(cl.FirstParty)},
		"refresh_token_ttl":         {strconv.FormatInt(int64(cl.RefreshTokenTTL/time.Second), 10)},
		"refresh_token_idle_ttl":    {strconv.FormatInt(int64(cl.RefreshTokenIdleTTL/time.Second), 10)},
	}}
}

// uriLines reads a textarea of URIs, one per line; blank lines are
// ignored.
func uriLines(v string) []string {
	out := []string{}
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// secondsField reads a whole number of seconds from the form, naming the
// field when it is not one.
func secondsField(v url.Values, name string) (*int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v.Get(name)), 10, 64)
	if err != nil {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "%s must be a whole number of seconds", name)
	}
	return &n, nil
}

// scopeChoices ticks the boxes of the scopes f names.
func (cv *clientView) scopeChoices(f form) {
	for _, g := range cv.ScopeGroups {
		for _, sc := range g.Scopes {
			sc.Checked = slices.Contains(f.Values["scopes"], sc.Name)
		}
	}
}

// consumerKey is the client_id a client presents: the manager's for one
// registered at an external key manager.
func consumerKey(cl *keysmith.Client) string {
	if cl.External() {
		return cl.ExternalClientID
	}
	return cl.ID
}

// ttlSeconds is a token lifetime as the form shows it: seconds, -1 for
// never expiring.
func ttlSeconds(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Second)
}

// appClient returns the application of the path and its client, which
// must be one of the application's (else CodeNotFound, as for a client the
// caller may not see).
func (s *Server) appClient(r *http.Request, c *Caller) (*keysmith.App, *keysmith.Client, error) {
	a, err := s.Service.FindAppByID(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	cl, err := s.Service.FindClientByID(r.Context(), c.Principal, r.PathValue("client"))
	if err == nil && cl.AppID != a.ID {
		err = keysmith.Errorf(keysmith.CodeNotFound, "OAuth client %q is not a client of application %q", cl.ID, a.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	return a, cl, nil
}

// clientsBack sends a reloaded shown-once page back to the application,
// in the client's environment when the address names one.
func (s *Server) clientsBack(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	env := r.URL.Query().Get("env")
	if rest := r.PathValue("rest"); rest != "" {
		if cl, err := s.Service.FindClientByID(r.Context(), c.Principal, strings.Split(rest, "/")[0]); err == nil && cl.AppID == id {
			env = string(cl.Environment)
		}
	}
	return redirect(w, r, appURL(id, env, ""))
}

// shownOnce renders a secret just made, in this response only (no
// redirect): the consumer key plainly, the secret in the "secret" part.
func (s *Server) shownOnce(w http.ResponseWriter, r *http.Request, c *Caller, a *keysmith.App, cl *keysmith.Client,
	sec *keysmith.ClientSecret, plain keysmith.Secret, title, notice string, token *oauth.Issued) {
	d := map[string]any{
		"App": a, "Client": cl, "SecretRecord": sec, "EnvName": envLabel(cl.Environment), "Notice": notice,
		"ConsumerKey": consumerKey(cl), "Back": appKMURL(a.ID, string(cl.Environment), cl.KeyManagerID),
		"Secret": map[string]any{"ID": "client-secret", "Label": "Consumer secret", "Value": plain.Reveal()},
	}
	if cl.External() {
		d["Secret"].(map[string]any)["Warn"] = "Copy it now: Keysmith does not keep it (the key manager does) and will not show it again."
	}
	if token != nil {
		d["Token"] = map[string]any{"ID": "access-token", "Label": "Access token", "Value": token.Token.Reveal()}
		d["TokenScope"], d["TokenExpiresIn"] = token.Record.Scope, token.ExpiresIn
	}
	s.render(w, r, c, http.StatusCreated, "app_secret", title, d)
}

// clientGenerate creates an OAuth client of the application in an
// environment, with its first secret, shown once.
func (s *Server) clientGenerate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id, env := r.PathValue("id"), r.PostForm.Get("env")
	if env == "" {
		env = r.URL.Query().Get("env") // the form's address names it too, for a reload
	}
	a, err := s.Service.FindAppByID(r.Context(), c.Principal, id)
	if err != nil {
		return err
	}
	e, err := keysmith.ParseEnvironment(env)
	if err != nil {
		return s.appFormFailed(w, r, c, id, "", "", err)
	}
	existing, err := s.appClients(r, c, a.ID)
	if err != nil {
		return err
	}
	n := 1
	for _, cl := range existing {
		if cl.Environment == e {
			n++
		}
	}
	name := envLabel(e) + " client"
	if n > 1 {
		name += " " + strconv.Itoa(n)
	}
	in := keysmith.CreateClientInput{Name: name, AppID: a.ID, Environment: string(e), KeyManager: r.PostForm.Get("key_manager")}
	external := in.KeyManager != "" && in.KeyManager != keysmith.BuiltinKeyManager
	withToken := r.PostForm.Get("with_token") == "true" && !external
	if err := codeFlowInput(&in, r.PostForm, withToken); err != nil {
		return s.appFormFailed(w, r, c, id, env, "", err)
	}
	if external {
		// The manager's client gets the scopes ticked (they must exist
		// there); its tokens come from the manager, not from here.
		for _, sc := range r.PostForm["scopes"] {
			if sc = strings.TrimSpace(sc); sc != "" && !slices.Contains(in.Scopes, sc) {
				in.Scopes = append(in.Scopes, sc)
			}
		}
	}
	if withToken {
		// The token's scopes and validity are the new client's own: a
		// negative validity (never expires) needs opaque tokens.
		for _, sc := range r.PostForm["scopes"] {
			if sc = strings.TrimSpace(sc); sc != "" && !slices.Contains(in.Scopes, sc) {
				in.Scopes = append(in.Scopes, sc)
			}
		}
		if v := strings.TrimSpace(r.PostForm.Get("token_ttl_seconds")); v != "" {
			ttl, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return s.appFormFailed(w, r, c, id, env, "", keysmith.Errorf(keysmith.CodeInvalid,
					"token_ttl_seconds must be a whole number of seconds (negative: never expires)"))
			}
			in.TokenTTLSeconds = &ttl
			if ttl < 0 {
				in.TokenFormat = string(keysmith.FormatOpaque)
			}
		}
	}
	cl, sec, plain, err := s.Service.CreateClient(r.Context(), c.Principal, in)
	if err != nil {
		return s.appFormFailed(w, r, c, id, env, "", err)
	}
	if sec == nil && plain.Reveal() == "" { // a public client: no secret to show
		return redirect(w, r, appURL(a.ID, string(cl.Environment), "public-created")+"#client-"+cl.ID)
	}
	notice := "The " + strings.ToLower(envLabel(e)) + " OAuth client of " + a.Name + " is created with its first consumer secret."
	if external {
		notice = "The " + strings.ToLower(envLabel(e)) + " OAuth client of " + a.Name + " is registered at the key manager, which issues its access tokens and keeps its consumer secret, shown here once."
	}
	var token *oauth.Issued
	if withToken {
		// Through the token endpoint's own checks and limits; the keys
		// exist whatever happens here, so a refusal is said, not returned.
		if token, err = s.Gate.IssueClientToken(w, r, cl.ID, plain.Reveal(), strings.Join(cl.Scopes, " "), nil); err != nil {
			msg := keysmith.ErrorMessage(err)
			var oe *oauth.Error
			if errors.As(err, &oe) {
				msg = oe.Description
			}
			notice += " No access token was issued: " + msg
		}
	}
	s.shownOnce(w, r, c, a, cl, sec, plain, envLabel(e)+" keys generated", notice, token)
	return nil
}

// codeFlowInput reads the generation form's authorization code settings:
// redirect URIs (one per line) make a client of the code flow with refresh
// tokens, and "public" one without a secret (PKCE always required).
func codeFlowInput(in *keysmith.CreateClientInput, v url.Values, withToken bool) error {
	in.RedirectURIs = uriLines(v.Get("redirect_uris"))
	public := v.Get("public") == "true"
	if public {
		in.TokenEndpointAuthMethod = keysmith.AuthNone
		if withToken {
			return keysmith.Errorf(keysmith.CodeInvalid, "a public client has no secret, so it gets no access token here: it signs people in through the authorization code flow")
		}
	}
	switch {
	case public:
		in.GrantTypes = []string{keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken}
	case len(in.RedirectURIs) > 0:
		in.GrantTypes = []string{keysmith.GrantClientCredentials, keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken}
	}
	return nil
}

// clientSettingsFields are the settings form's fields, in the order errors
// are matched ("scope …" messages go beside the scope picker, "grant …"
// and "the … grant" beside the grant types).
var clientSettingsFields = []string{"name", "scope", "audience", "token_ttl_seconds", "redirect_uris",
	"post_logout_redirect_uris", "grant", "the refresh_token grant", "the authorization_code grant", "a public client", "pkce_required", "pkce_allow_plain",
	"refresh_token_ttl", "refresh_token_idle_ttl", "first_party"}

// settingsUpdate reads the settings form into a change. The code flow's
// fields are read only from a form that carries them (its hidden
// "code_flow" field): an unticked box sends nothing, so a form without
// them leaves them as they are. Boxes the page does not offer the caller
// stay too: PKCE of a public client (always required) and first_party for
// all but org and super admins.
func settingsUpdate(v url.Values, cl *keysmith.Client, u *keysmith.User) (keysmith.ClientUpdate, error) {
	name, aud := strings.TrimSpace(v.Get("name")), strings.TrimSpace(v.Get("audience"))
	scopes := []string{}
	for _, sc := range v["scopes"] {
		if sc = strings.TrimSpace(sc); sc != "" && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	up := keysmith.ClientUpdate{Name: &name, Scopes: &scopes, Audience: &aud}
	ttl, err := strconv.ParseInt(strings.TrimSpace(v.Get("token_ttl_seconds")), 10, 64)
	if err != nil {
		return up, keysmith.Errorf(keysmith.CodeInvalid, "token_ttl_seconds must be a whole number of seconds (negative: never expires)")
	}
	up.TokenTTLSeconds = &ttl
	if v.Get("code_flow") != "true" {
		return up, nil
	}
	grants := []string{}
	for _, g := range v["grant_types"] {
		if !slices.Contains(grants, g) {
			grants = append(grants, g)
		}
	}
	redirects, logouts := uriLines(v.Get("redirect_uris")), uriLines(v.Get("post_logout_redirect_uris"))
	plain := v.Get("pkce_allow_plain") == "true"
	up.GrantTypes, up.RedirectURIs, up.PostLogoutRedirectURIs, up.PKCEAllowPlain = &grants, &redirects, &logouts, &plain
	if !cl.Public() {
		req := v.Get("pkce_required") == "true"
		up.PKCERequired = &req
	}
	if keysmith.CanSetFirstParty(u) == nil {
		fp := v.Get("first_party") == "true"
		up.FirstParty = &fp
	}
	if up.RefreshTokenTTLSeconds, err = secondsField(v, "refresh_token_ttl"); err != nil {
		return up, err
	}
	up.RefreshTokenIdleTTLSeconds, err = secondsField(v, "refresh_token_idle_ttl")
	return up, err
}

// clientSettings changes a client's settings. The service refuses a scope
// the caller may not grant, or first_party from anyone but org and super
// admins (403), and changes nothing then.
func (s *Server) clientSettings(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, cl, err := s.appClient(r, c)
	if err != nil {
		return err
	}
	u, err := settingsUpdate(r.PostForm, cl, c.User)
	if err == nil {
		_, err = s.Service.UpdateClient(r.Context(), c.Principal, cl.ID, u)
	}
	if err != nil {
		return s.appFormFailed(w, r, c, a.ID, string(cl.Environment), cl.ID+":settings", err, clientSettingsFields...)
	}
	return redirect(w, r, appURL(a.ID, string(cl.Environment), "settings")+"#client-"+cl.ID)
}

// clientRevoke revokes a client: no new tokens, and its live tokens are
// refused at once.
func (s *Server) clientRevoke(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, cl, err := s.appClient(r, c)
	if err != nil {
		return err
	}
	if _, err := s.Service.RevokeClient(r.Context(), c.Principal, cl.ID); err != nil {
		return s.appFormFailed(w, r, c, a.ID, string(cl.Environment), "", err)
	}
	return redirect(w, r, appURL(a.ID, string(cl.Environment), "client-revoked"))
}

// secretInput reads the optional description and expiry of a new secret.
func secretInput(v url.Values) (keysmith.CreateSecretInput, error) {
	exp, err := expiryFromForm(v.Get("expires_at"))
	return keysmith.CreateSecretInput{Description: strings.TrimSpace(v.Get("description")), ExpiresAt: exp}, err
}

// secretCreate adds a consumer secret to a client, shown once; the others
// keep working, for rotation without downtime.
func (s *Server) secretCreate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, cl, err := s.appClient(r, c)
	if err != nil {
		return err
	}
	in, err := secretInput(r.PostForm)
	var sec *keysmith.ClientSecret
	var plain keysmith.Secret
	if err == nil {
		sec, plain, err = s.Service.CreateClientSecret(r.Context(), c.Principal, cl.ID, in)
	}
	if err != nil {
		return s.appFormFailed(w, r, c, a.ID, string(cl.Environment), cl.ID+":secret", err, "description", "expires_at")
	}
	s.shownOnce(w, r, c, a, cl, sec, plain, "New consumer secret",
		"A new consumer secret is added to "+cl.Name+". The client's other secrets keep working.", nil)
	return nil
}

// secretsReset replaces every secret of a client with one new one, shown
// once; the old ones stop working at once.
func (s *Server) secretsReset(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, cl, err := s.appClient(r, c)
	if err != nil {
		return err
	}
	sec, plain, err := s.Service.ResetClientSecrets(r.Context(), c.Principal, cl.ID, keysmith.CreateSecretInput{Description: "reset"})
	if err != nil {
		return s.appFormFailed(w, r, c, a.ID, string(cl.Environment), "", err)
	}
	s.shownOnce(w, r, c, a, cl, sec, plain, "Consumer secrets reset",
		"Every earlier consumer secret of "+cl.Name+" is deleted and no longer obtains access tokens; this is its only secret now.", nil)
	return nil
}

// secretDelete deletes one consumer secret; access tokens issued with it
// stay valid until they expire.
func (s *Server) secretDelete(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, cl, err := s.appClient(r, c)
	if err != nil {
		return err
	}
	if err := s.Service.DeleteClientSecret(r.Context(), c.Principal, cl.ID, r.PathValue("secret")); err != nil {
		return s.appFormFailed(w, r, c, a.ID, string(cl.Environment), "", err)
	}
	return redirect(w, r, appURL(a.ID, string(cl.Environment), "secret-deleted")+"#client-"+cl.ID)
}

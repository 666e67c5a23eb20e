package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/keysmith/keysmith"
)

// The app keys pages: the API keys of one application in one environment
// (sandbox or production, never both on one page), the create form with
// its one-time result, and one key's page with rotate (with a grace
// period for the old secret), enable/disable, its name and scopes, and
// revoke. Every change goes through the domain service, which refuses what
// the role may not do and scopes the caller may not grant; the pages only
// leave out the buttons and disable the checkboxes it would refuse.
func (s *Server) appKeyRoutes(mux *http.ServeMux) {
	mux.Handle("GET /apps/{app_id}/keys", s.page(s.appKeysList))
	mux.Handle("GET /apps/{app_id}/keys/new", s.page(s.appKeyNew))
	mux.Handle("POST /apps/{app_id}/keys", s.page(s.appKeyCreate))
	mux.Handle("GET /apps/{app_id}/keys/{id}", s.page(s.appKeyPage))
	mux.Handle("POST /apps/{app_id}/keys/{id}", s.page(s.appKeyUpdate))
	mux.Handle("POST /apps/{app_id}/keys/{id}/enabled", s.page(s.appKeyEnabled))
	mux.Handle("POST /apps/{app_id}/keys/{id}/rotate", s.page(s.appKeyRotate))
	// Reloading the rotate result (its history entry is a GET) lands on the
	// key's page, without a secret.
	mux.Handle("GET /apps/{app_id}/keys/{id}/rotate", s.page(s.appKeyBack))
	mux.Handle("POST /apps/{app_id}/keys/{id}/revoke", s.page(s.appKeyRevoke))
}

// envParam reads ?env=; anything but sandbox is production, the first tab.
func envParam(r *http.Request) keysmith.Environment {
	if keysmith.Environment(r.URL.Query().Get("env")) == keysmith.EnvSandbox {
		return keysmith.EnvSandbox
	}
	return keysmith.EnvProduction
}

func appKeysURL(appID string, env keysmith.Environment) string {
	return "/apps/" + url.PathEscape(appID) + "/keys?env=" + string(env)
}

func appKeyURL(appID, id string) string {
	return "/apps/" + url.PathEscape(appID) + "/keys/" + url.PathEscape(id)
}

// appKeyRow is a key with its status derived once.
type appKeyRow struct {
	*keysmith.Token
	Status keysmith.TokenStatus
}

// maxKeyPages bounds the store pages one request of the keys page reads.
const maxKeyPages = 5

// appKeysList lists the keys of one application in one environment.
func (s *Server) appKeysList(w http.ResponseWriter, r *http.Request, c *Caller) error {
	ctx, appID, env := r.Context(), r.PathValue("app_id"), envParam(r)
	a, err := s.Service.FindAppByID(ctx, c.Principal, appID)
	if err != nil {
		return err
	}
	// The service lists every key of the app; the page keeps one
	// environment's. Pages are followed until this environment has a
	// page's worth, or for at most maxKeyPages pages a request: then the
	// Next link goes on from there.
	var rows []appKeyRow
	cursor, next := r.URL.Query().Get("cursor"), ""
	now := s.Service.Now()
	for pages := 1; ; pages++ {
		ts, n, err := s.Service.FindAppKeys(ctx, c.Principal, a.ID, keysmith.TokenFilter{Page: keysmith.Page{Cursor: cursor}})
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Environment == env {
				rows = append(rows, appKeyRow{Token: t, Status: t.Status(now)})
			}
		}
		next = n
		if n == "" || len(rows) >= 20 || pages >= maxKeyPages {
			break
		}
		cursor = n
	}
	nextURL := ""
	if next != "" {
		nextURL = appKeysURL(a.ID, env) + "&cursor=" + url.QueryEscape(next)
	}
	var tabs []envTab
	for _, e := range []keysmith.Environment{keysmith.EnvProduction, keysmith.EnvSandbox} {
		tabs = append(tabs, envTab{Env: e, Label: envLabel(e) + " keys", URL: appKeysURL(a.ID, e), Current: e == env})
	}
	s.render(w, r, c, http.StatusOK, "appkeys", "API keys of "+a.Name, map[string]any{
		"App": a, "Env": env, "EnvLabel": envLabel(env), "Tabs": tabs, "Keys": rows, "Next": nextURL,
		"CanCreate": keysmith.CanManageAppKeys(c.User, a),
	})
	return nil
}

// keyScopeChoice is a registered scope as a checkbox: checked when the key
// names it, disabled when the caller may not give it (and the key does not
// already hold it: taking a scope away needs no grant).
type keyScopeChoice struct {
	keysmith.Scope
	ID       string
	Checked  bool
	Disabled bool
}

// keyScopeGroup is one API's scopes, a fieldset of the form.
type keyScopeGroup struct {
	API    *keysmith.API
	Scopes []keyScopeChoice
}

// keyScopeGroups lists the registered APIs' scopes as checkboxes, checked as
// in checked; held are the scopes the credential has now.
func (s *Server) keyScopeGroups(r *http.Request, c *Caller, checked, held []string) ([]keyScopeGroup, error) {
	apis, err := s.Service.FindAPIs(r.Context(), c.Principal)
	if err != nil {
		return nil, err
	}
	var groups []keyScopeGroup
	n := 0
	for _, a := range apis {
		if len(a.Scopes) == 0 {
			continue
		}
		g := keyScopeGroup{API: a}
		for _, sc := range a.Scopes {
			n++
			g.Scopes = append(g.Scopes, keyScopeChoice{Scope: sc, ID: "scope-" + strconv.Itoa(n),
				Checked:  slices.Contains(checked, sc.Name),
				Disabled: !keysmith.CanGrantScope(c.User, sc) && !slices.Contains(held, sc.Name)})
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// appKeyNew shows the create form for one environment.
func (s *Server) appKeyNew(w http.ResponseWriter, r *http.Request, c *Caller) error {
	a, err := s.Service.FindAppByID(r.Context(), c.Principal, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	if !keysmith.CanManageAppKeys(c.User, a) {
		return keysmith.Errorf(keysmith.CodeForbidden, "only the application's owner and org and super admins create its keys")
	}
	return s.renderAppKeyForm(w, r, c, a, http.StatusOK, form{Values: url.Values{"environment": {string(envParam(r))}}})
}

func (s *Server) renderAppKeyForm(w http.ResponseWriter, r *http.Request, c *Caller, a *keysmith.App, status int, f form) error {
	groups, err := s.keyScopeGroups(r, c, f.Values["scopes"], nil)
	if err != nil {
		return err
	}
	env := keysmith.Environment(f.Get("environment"))
	if env != keysmith.EnvSandbox {
		env = keysmith.EnvProduction
	}
	s.render(w, r, c, status, "appkey_new", "New "+envLabel(env)+" key of "+a.Name, map[string]any{
		"App": a, "Env": env, "EnvLabel": envLabel(env), "Form": f, "Groups": groups,
	})
	return nil
}

// appKeyCreate creates a key and shows its secret in this response only
// (201, no redirect): the secret is in no URL, cookie or log. The form's
// action keeps ?env=, so that reloading the result shows that environment's list.
func (s *Server) appKeyCreate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	ctx, v := r.Context(), r.PostForm
	a, err := s.Service.FindAppByID(ctx, c.Principal, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	in := keysmith.CreateAppKeyInput{Name: v.Get("name"), Environment: v.Get("environment"), Scopes: v["scopes"]}
	in.ExpiresAt, err = expiryFromForm(v.Get("expires_at"))
	var t *keysmith.Token
	var secret keysmith.Secret
	if err == nil {
		t, secret, err = s.Service.CreateAppKey(ctx, c.Principal, a.ID, in)
	}
	if isFormError(err) {
		return s.renderAppKeyForm(w, r, c, a, statusOf(keysmith.ErrorCode(err)),
			form{Values: v, Errors: formError(err, "name", "environment", "scopes", "scope", "expires_at")})
	}
	if err != nil {
		return err
	}
	s.render(w, r, c, http.StatusCreated, "appkey_new", envLabel(t.Environment)+" key created", map[string]any{
		"App": a, "Created": t, "EnvLabel": envLabel(t.Environment),
		"Secret": map[string]any{"ID": "key-secret", "Label": "Your " + envLabel(t.Environment) + " API key", "Value": secret.Reveal()},
	})
	return nil
}

// appKeyNotices are the confirmations shown after a change (?done=...).
var appKeyNotices = map[string]string{
	"saved":    "The key is saved; verify applies it to the next call.",
	"enabled":  "The key is enabled.",
	"disabled": "The key is disabled: calls with it are refused until it is enabled again.",
	"revoked":  "The key is revoked: every call with it is refused from now on.",
}

// rotationGraces are the grace periods the rotate form offers.
var rotationGraces = []struct {
	Value string
	Label string
}{{"0", "None"}, {"3600", "1 hour"}, {"86400", "24 hours"}}

// appKeyPage shows one key.
func (s *Server) appKeyPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	d, err := s.appKeyPageData(r, c, form{})
	if err != nil {
		return err
	}
	d["Notice"] = appKeyNotices[r.URL.Query().Get("done")]
	s.render(w, r, c, http.StatusOK, "appkey", d["Key"].(*keysmith.Token).Name, d)
	return nil
}

// appKeyPageData is what the key page shows, with a flag for each action
// the caller's role may take (the service checks again). f, when it has
// values, is the edit form as sent.
func (s *Server) appKeyPageData(r *http.Request, c *Caller, f form) (map[string]any, error) {
	ctx := r.Context()
	a, err := s.Service.FindAppByID(ctx, c.Principal, r.PathValue("app_id"))
	if err != nil {
		return nil, err
	}
	t, err := s.Service.FindAppKeyByID(ctx, c.Principal, a.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	st := t.Status(s.Service.Now())
	manage := keysmith.CanManageAppKeys(c.User, a) && st != keysmith.TokenRevoked
	if f.Values == nil {
		f.Values = url.Values{"name": {t.Name}, "scopes": t.Scopes}
	}
	d := map[string]any{"App": a, "Key": t, "Status": st, "EnvLabel": envLabel(t.Environment), "Form": f,
		"CanManage": manage, "CanRotate": manage && st != keysmith.TokenExpired, "Graces": rotationGraces,
		"ListURL": appKeysURL(a.ID, t.Environment)}
	if manage {
		if d["Groups"], err = s.keyScopeGroups(r, c, f.Values["scopes"], t.Scopes); err != nil {
			return nil, err
		}
	}
	d["Error"] = f.Errors[""]
	return d, nil
}

// appKeyFormFailed shows the key page again with the error beside its
// field, or returns err when it is not the user's to fix.
func (s *Server) appKeyFormFailed(w http.ResponseWriter, r *http.Request, c *Caller, err error, fields ...string) error {
	if !isFormError(err) {
		return err
	}
	f := form{Errors: formError(err, fields...)}
	if r.PostForm.Has("name") {
		f.Values = r.PostForm
	}
	d, derr := s.appKeyPageData(r, c, f)
	if derr != nil {
		return derr
	}
	s.render(w, r, c, statusOf(keysmith.ErrorCode(err)), "appkey", d["Key"].(*keysmith.Token).Name, d)
	return nil
}

// appKeyUpdate changes the key's name and scopes.
func (s *Server) appKeyUpdate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v := r.PostForm
	name, scopes := v.Get("name"), v["scopes"]
	if scopes == nil {
		scopes = []string{}
	}
	appID, id := r.PathValue("app_id"), r.PathValue("id")
	if _, err := s.Service.UpdateAppKey(r.Context(), c.Principal, appID, id, keysmith.AppKeyUpdate{Name: &name, Scopes: &scopes}); err != nil {
		return s.appKeyFormFailed(w, r, c, err, "name", "scopes", "scope")
	}
	return redirect(w, r, appKeyURL(appID, id)+"?done=saved")
}

// appKeyEnabled disables or enables the key (enabled=true|false).
func (s *Server) appKeyEnabled(w http.ResponseWriter, r *http.Request, c *Caller) error {
	var on bool
	switch r.PostForm.Get("enabled") {
	case "true":
		on = true
	case "false":
	default:
		return keysmith.Errorf(keysmith.CodeInvalid, "enabled must be true or false.")
	}
	appID, id := r.PathValue("app_id"), r.PathValue("id")
	if _, err := s.Service.UpdateAppKey(r.Context(), c.Principal, appID, id, keysmith.AppKeyUpdate{Enabled: &on}); err != nil {
		return s.appKeyFormFailed(w, r, c, err)
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	return redirect(w, r, appKeyURL(appID, id)+"?done="+done)
}

// appKeyRotate gives the key a new secret, shown in this response only;
// the old one keeps working for the grace period chosen.
func (s *Server) appKeyRotate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	var grace time.Duration
	switch g := r.PostForm.Get("grace"); g {
	case "", "0":
	case "3600":
		grace = time.Hour
	case "86400":
		grace = 24 * time.Hour
	default:
		return s.appKeyFormFailed(w, r, c, keysmith.Errorf(keysmith.CodeInvalid, "grace must be none, 1 hour or 24 hours"), "grace")
	}
	appID := r.PathValue("app_id")
	t, secret, err := s.Service.RotateAppKey(r.Context(), c.Principal, appID, r.PathValue("id"), grace)
	if err != nil {
		return s.appKeyFormFailed(w, r, c, err, "grace")
	}
	a, err := s.Service.FindAppByID(r.Context(), c.Principal, appID)
	if err != nil {
		return err
	}
	s.render(w, r, c, http.StatusOK, "appkey_new", "Key rotated", map[string]any{
		"App": a, "Created": t, "Rotated": true, "Grace": graceLabel(grace), "EnvLabel": envLabel(t.Environment),
		"Secret": map[string]any{"ID": "key-secret", "Label": "The new secret of " + t.Name, "Value": secret.Reveal()},
	})
	return nil
}

// graceLabel is a grace period as people read it ("" for none).
func graceLabel(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return humanDuration(d)
}

// appKeyBack sends a reload of a rotate result to the key's page.
func (s *Server) appKeyBack(w http.ResponseWriter, r *http.Request, c *Caller) error {
	return redirect(w, r, appKeyURL(r.PathValue("app_id"), r.PathValue("id")))
}

// appKeyRevoke revokes the key; every replica refuses it from now on.
func (s *Server) appKeyRevoke(w http.ResponseWriter, r *http.Request, c *Caller) error {
	appID, id := r.PathValue("app_id"), r.PathValue("id")
	if _, err := s.Service.RevokeAppKey(r.Context(), c.Principal, appID, id); err != nil {
		return s.appKeyFormFailed(w, r, c, err)
	}
	return redirect(w, r, appKeyURL(appID, id)+"?done=revoked")
}

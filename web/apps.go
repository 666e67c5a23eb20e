package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keysmith/keysmith"
)

// The applications pages of the developer portal: the list of the caller's
// applications (admins: everyone's), the create form, and one application's
// page with its App ID and its OAuth clients per environment (production
// and sandbox, never mixed), each client with its consumer secrets and its
// settings. Secrets are shown once, in the answer to the POST that made
// them (app_secret.html). The service decides who sees and changes what;
// the pages only leave out the buttons it would refuse.
func (s *Server) appRoutes(mux *http.ServeMux) {
	mux.Handle("GET /apps", s.page(s.appsList))
	mux.Handle("GET /apps/new", s.page(s.appNew))
	mux.Handle("POST /apps", s.page(s.appCreate))
	mux.Handle("GET /apps/{id}", s.page(s.appPage))
	mux.Handle("POST /apps/{id}", s.page(s.appUpdate))
	mux.Handle("POST /apps/{id}/delete", s.page(s.appDelete))
	mux.Handle("POST /apps/{id}/transfer", s.page(s.appTransfer))
	s.appClientRoutes(mux)
}

// appRow is an application in the list, with its owner's e-mail for admins.
type appRow struct {
	*keysmith.App
	Owner string
}

// appsList lists the applications the caller may see: a developer's own;
// every admin's view holds all of them, with an owner column.
func (s *Server) appsList(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	as, next, err := s.Service.FindApps(r.Context(), c.Principal, keysmith.AppFilter{Page: keysmith.Page{Cursor: q.Get("cursor")}})
	if err != nil {
		return err
	}
	all := keysmith.CanSeeAllApps(c.User)
	owners := map[string]string{c.User.ID: c.User.Email}
	rows := make([]appRow, len(as))
	for i, a := range as {
		rows[i] = appRow{App: a}
		if all {
			rows[i].Owner = s.ownerLabel(r, c, a.OwnerID, owners)
		}
	}
	nextURL := ""
	if next != "" {
		nextURL = "/apps?" + url.Values{"cursor": {next}}.Encode()
	}
	notice := ""
	if q.Get("done") == "deleted" {
		notice = "The application is deleted: its OAuth clients are revoked, so their secrets and access tokens no longer work, and its API keys are revoked."
	}
	s.render(w, r, c, http.StatusOK, "apps_list", "Applications", map[string]any{
		"Apps": rows, "Next": nextURL, "ShowOwner": all, "CanCreate": keysmith.CanCreateApps(c.User), "Notice": notice,
	})
	return nil
}

// ownerLabel names a user by e-mail when the caller may see them, else by
// id; seen caches the answers of one page.
func (s *Server) ownerLabel(r *http.Request, c *Caller, id string, seen map[string]string) string {
	if l, ok := seen[id]; ok {
		return l
	}
	l := id
	if u, err := s.Service.FindUserByID(r.Context(), c.Principal, id); err == nil {
		l = u.Email
	}
	seen[id] = l
	return l
}

// appNew shows the create form; a role that may not create applications is
// refused here as the service would refuse the post.
func (s *Server) appNew(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !keysmith.CanCreateApps(c.User) {
		return keysmith.Errorf(keysmith.CodeForbidden, "role %s may not create applications", c.User.Role)
	}
	s.render(w, r, c, http.StatusOK, "app_new", "Create application", map[string]any{"Form": form{Values: url.Values{}}})
	return nil
}

// appCreate registers an application owned by the caller and opens its page.
func (s *Server) appCreate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	v := r.PostForm
	a, err := s.Service.CreateApp(r.Context(), c.Principal, keysmith.CreateAppInput{
		Name: strings.TrimSpace(v.Get("name")), Description: strings.TrimSpace(v.Get("description"))})
	if isFormError(err) {
		s.render(w, r, c, http.StatusBadRequest, "app_new", "Create application", map[string]any{
			"Form": form{Values: v, Errors: formError(err, "name", "description")}})
		return nil
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/apps/"+url.PathEscape(a.ID)+"?done=created")
}

// appNotices are the confirmations shown after a change (?done=...).
var appNotices = map[string]string{
	"created":          "The application is created. Generate keys in an environment to get its OAuth client credentials.",
	"saved":            "The application is saved.",
	"settings":         "The client settings are saved; they apply to the next access token issued.",
	"secret-deleted":   "The secret is deleted: it no longer obtains access tokens. Tokens issued with it stay valid until they expire.",
	"public-created":   "The public client is created. It has no consumer secret: it signs people in through the authorization code flow with PKCE, authenticating with its client ID alone.",
	"client-revoked":   "The OAuth client is revoked: its secrets no longer work and its access tokens are refused from now on.",
	"transferred":      "The application has a new owner. Its OAuth clients and API keys were revoked and its consumer secrets deleted, so the previous owner holds nothing that works, access tokens issued to those clients included; the new owner generates new keys.",
	"transferred-kept": "The application has a new owner; its credentials were kept.",
}

// appTransfer gives the application to another owner (org and super
// admins); by default its credentials are reset, so that the previous owner
// holds nothing that works (see Service.TransferApp).
func (s *Server) appTransfer(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	to, err := s.findUser(r.Context(), c, "owner", r.PostForm.Get("owner"))
	if err == nil {
		var t *keysmith.AppTransfer
		keep := r.PostForm.Get("keep_credentials")
		if keep != "" && keep != "true" {
			return keysmith.Errorf(keysmith.CodeInvalid, "keep_credentials must be true or absent.")
		}
		t, err = s.Service.TransferApp(r.Context(), c.Principal, id, keysmith.TransferAppInput{OwnerID: to.ID,
			KeepCredentials: keep == "true"})
		if err == nil {
			done := "transferred"
			if !t.CredentialsReset {
				done = "transferred-kept"
			}
			return redirect(w, r, appURL(id, r.PostForm.Get("env"), done))
		}
	}
	return s.appFormFailed(w, r, c, id, r.PostForm.Get("env"), "transfer", err, "owner")
}

// appPage shows one application in one environment (?env=, production by
// default).
func (s *Server) appPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	d, err := s.appPageData(r, c, r.PathValue("id"), r.URL.Query().Get("env"))
	if err != nil {
		return err
	}
	d.Notice = appNotices[r.URL.Query().Get("done")]
	s.render(w, r, c, http.StatusOK, "app", d.App.Name, d)
	return nil
}

// appFields are the application form's fields, in the order errors are
// matched.
var appFields = []string{"name", "description"}

// appUpdate changes the application's name and description.
func (s *Server) appUpdate(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	name, desc := strings.TrimSpace(r.PostForm.Get("name")), strings.TrimSpace(r.PostForm.Get("description"))
	if _, err := s.Service.UpdateApp(r.Context(), c.Principal, id, keysmith.AppUpdate{Name: &name, Description: &desc}); err != nil {
		return s.appFormFailed(w, r, c, id, r.PostForm.Get("env"), "app", err, appFields...)
	}
	return redirect(w, r, appURL(id, r.PostForm.Get("env"), "saved"))
}

// appDelete deletes the application; the store revokes its clients (and so
// their secrets and tokens) and its API keys in the same transaction.
func (s *Server) appDelete(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	if err := s.Service.DeleteApp(r.Context(), c.Principal, id); err != nil {
		return s.appFormFailed(w, r, c, id, r.PostForm.Get("env"), "app", err)
	}
	return redirect(w, r, "/apps?done=deleted")
}

// appURL is the application's page in an environment, with a notice.
func appURL(id, env, done string) string {
	v := url.Values{}
	if e, err := keysmith.ParseEnvironment(env); err == nil && e != keysmith.EnvProduction {
		v.Set("env", string(e))
	}
	if done != "" {
		v.Set("done", done)
	}
	u := "/apps/" + url.PathEscape(id)
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

// envTab is one of the application page's two environment tabs.
type envTab struct {
	Env     keysmith.Environment
	Label   string
	URL     string
	Current bool
}

// envLabel is an environment as the page names it.
func envLabel(e keysmith.Environment) string {
	if e == keysmith.EnvSandbox {
		return "Sandbox"
	}
	return "Production"
}

// appView is what the application page shows, with a flag for each action
// the caller's role may take (the service checks again).
type appView struct {
	App     *keysmith.App
	Owner   string
	Env     keysmith.Environment
	EnvName string
	Tabs    []envTab
	Clients []*clientView
	// HasActive: the environment has a working client, so the page offers
	// "another client" rather than Generate Keys.
	HasActive  bool
	MaxSecrets int
	Form       form // the application's name and description
	Notice     string
	Error      string
	CanManage  bool // edit and delete the application, change clients, delete secrets
	CanIssue   bool // generate keys, add and reset secrets: receive secrets that act as the app
	// CanTransfer: give the application to another owner; CanKeep: keep
	// its credentials while doing so.
	CanTransfer, CanKeep bool
	Transfer             form
	// GenScopes are the scopes Generate Keys may give a first access token.
	GenScopes []scopeGroup
	// KM is the key manager whose tab is open (nil: Keysmith itself);
	// KMTabs are Keysmith and every enabled external manager.
	KM     *keysmith.KeyManager
	KMTabs []envTab
}

// kmTabs lists the key manager tabs of an environment: Keysmith first,
// then every enabled external manager, and the one open (nil for
// Keysmith; CodeNotFound for an unknown or disabled one).
func (s *Server) kmTabs(r *http.Request, c *Caller, appID string, env keysmith.Environment, kmParam string) ([]envTab, *keysmith.KeyManager, error) {
	ms, err := s.Service.FindKeyManagers(r.Context(), c.Principal)
	if err != nil {
		return nil, nil, err
	}
	tabs := []envTab{{Label: "Keysmith", URL: appKMURL(appID, string(env), ""), Current: kmParam == "" || kmParam == keysmith.BuiltinKeyManager}}
	var cur *keysmith.KeyManager
	for _, m := range ms {
		if !m.Enabled {
			continue
		}
		t := envTab{Label: m.Name, URL: appKMURL(appID, string(env), m.ID), Current: m.ID == kmParam}
		if t.Current {
			cur = m
		}
		tabs = append(tabs, t)
	}
	if cur == nil && !tabs[0].Current {
		return nil, nil, keysmith.Errorf(keysmith.CodeNotFound, "key manager %q is not one developers may use", kmParam)
	}
	return tabs, cur, nil
}

// appKMURL is the application's page in an environment, on a key
// manager's tab ("" for Keysmith's).
func appKMURL(id, env, km string) string {
	u := appURL(id, env, "")
	if km == "" || km == keysmith.BuiltinKeyManager {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&km=" + url.QueryEscape(km)
	}
	return u + "?km=" + url.QueryEscape(km)
}

// kmParam is the key manager tab a request names: ?km=, or the form's
// key_manager.
func kmParam(r *http.Request) string {
	if v := r.PostForm.Get("key_manager"); v != "" {
		return v
	}
	return r.URL.Query().Get("km")
}

// appPageData gathers the application page: the application, its tabs,
// and the clients of env with their secrets and settings forms.
func (s *Server) appPageData(r *http.Request, c *Caller, id, envParam string) (*appView, error) {
	ctx, u := r.Context(), c.User
	a, err := s.Service.FindAppByID(ctx, c.Principal, id)
	if err != nil {
		return nil, err
	}
	env := keysmith.EnvProduction
	if envParam != "" {
		if env, err = keysmith.ParseEnvironment(envParam); err != nil {
			return nil, err
		}
	}
	d := &appView{App: a, Env: env, EnvName: envLabel(env), MaxSecrets: s.maxSecrets(),
		CanManage: keysmith.CanManageOwned(u, a.OwnerID), CanIssue: keysmith.CanIssueAppCredentials(u, a.OwnerID),
		CanTransfer: keysmith.CanTransferApps(u), CanKeep: keysmith.CanKeepCredentialsOnTransfer(u),
		Form: form{Values: url.Values{"name": {a.Name}, "description": {a.Description}}}}
	d.Owner = s.ownerLabel(r, c, a.OwnerID, map[string]string{u.ID: u.Email})
	for _, e := range []keysmith.Environment{keysmith.EnvProduction, keysmith.EnvSandbox} {
		d.Tabs = append(d.Tabs, envTab{Env: e, Label: envLabel(e) + " Keys", URL: appURL(a.ID, string(e), ""), Current: e == env})
	}
	if d.KMTabs, d.KM, err = s.kmTabs(r, c, a.ID, env, kmParam(r)); err != nil {
		return nil, err
	}
	kmID := ""
	if d.KM != nil {
		kmID = d.KM.ID
	}
	clients, err := s.appClients(r, c, a.ID)
	if err != nil {
		return nil, err
	}
	apis, err := s.Service.FindAPIs(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	now := s.Service.Now()
	for _, cl := range clients {
		if cl.Environment != env || cl.KeyManagerID != kmID {
			continue
		}
		secs, err := s.Service.FindClientSecrets(ctx, c.Principal, cl.ID)
		if err != nil {
			return nil, err
		}
		cv := newClientView(cl, secs, apis, u, now)
		cv.CanManage = d.CanManage && cl.RevokedAt == nil
		cv.CanIssue = d.CanIssue && cl.RevokedAt == nil
		d.HasActive = d.HasActive || cl.RevokedAt == nil
		d.Clients = append(d.Clients, cv)
	}
	// The scopes a first access token may carry, for Generate Keys: only
	// those the caller may grant.
	for _, a := range apis {
		g := scopeGroup{Label: a.Name}
		for _, sc := range a.Scopes {
			if keysmith.CanGrantScope(u, sc) {
				g.Scopes = append(g.Scopes, &scopeChoice{Name: sc.Name, Description: sc.Description, SelfService: sc.SelfService, Enabled: true})
			}
		}
		if len(g.Scopes) > 0 {
			d.GenScopes = append(d.GenScopes, g)
		}
	}
	return d, nil
}

// appClients lists every client of the application, all pages of them.
func (s *Server) appClients(r *http.Request, c *Caller, appID string) ([]*keysmith.Client, error) {
	var out []*keysmith.Client
	f := keysmith.ClientFilter{AppID: appID, Page: keysmith.Page{Limit: keysmith.MaxPageSize}}
	for {
		cs, next, err := s.Service.FindClients(r.Context(), c.Principal, f)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		if next == "" || len(out) >= 10*keysmith.MaxPageSize {
			return out, nil
		}
		f.Cursor = next
	}
}

// maxSecrets is how many secrets a client may hold, as the service counts.
func (s *Server) maxSecrets() int {
	if s.Service.MaxClientSecrets > 0 {
		return s.Service.MaxClientSecrets
	}
	return keysmith.DefaultMaxClientSecrets
}

// appFormFailed shows the application page again with a form's error
// beside its field (which names the form: "app", or a client's id and
// ":settings" or ":secret"; fields its fields, in the order formError
// matches them), or returns err when it is not the user's to fix.
func (s *Server) appFormFailed(w http.ResponseWriter, r *http.Request, c *Caller, id, env, which string, err error, fields ...string) error {
	if !isFormError(err) {
		return err
	}
	d, ferr := s.appPageData(r, c, id, env)
	if ferr != nil {
		return ferr
	}
	f := form{Values: url.Values{}, Errors: formError(err, fields...)}
	if msg := f.Errors[""]; msg != "" && strings.HasSuffix(which, ":settings") && strings.Contains(msg, "JWT") {
		// The lifetime a JWT client may have: the domain says it
		// without naming the field.
		f.Errors = map[string]string{"token_ttl_seconds": msg}
	}
	for k, v := range r.PostForm {
		if k != "csrf_token" {
			f.Values[k] = v
		}
	}
	placed := false
	if which == "app" {
		d.Form, placed = f, true
	}
	if which == "transfer" {
		d.Transfer, placed = f, true
	}
	for _, cv := range d.Clients {
		switch which {
		case cv.ID + ":settings":
			cv.Settings = settingsForm(cv.Client, f)
			cv.scopeChoices(f)
			placed = true
		case cv.ID + ":secret":
			cv.NewSecret, placed = f, true
		}
	}
	if !placed {
		d.Error = keysmith.ErrorMessage(err)
	}
	s.render(w, r, c, statusOf(keysmith.ErrorCode(err)), "app", d.App.Name, d)
	return nil
}

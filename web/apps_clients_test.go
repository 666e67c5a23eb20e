package web_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/web/webtest"
)

// storedClient reads a client as stored, to check what a page saved.
func storedClient(b *webtest.Browser, id string) *keysmith.Client {
	b.T.Helper()
	cl, err := b.Server.App.Store.FindClientByID(context.Background(), id)
	if err != nil {
		b.T.Fatal(err)
	}
	return cl
}

// TestDeveloperMakesAPublicSignInClient: a developer generates a public
// client with a redirect URI (no secret is shown or kept, and the page has
// no secrets section), sees a bad redirect URI refused beside its field,
// then edits the code flow settings; the first-party box is not theirs.
func TestDeveloperMakesAPublicSignInClient(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	p := signedInDeveloper(b, "dev@example.com")
	a, err := b.Server.App.Service.CreateApp(context.Background(), p, keysmith.CreateAppInput{Name: "Shop SPA"})
	if err != nil {
		t.Fatal(err)
	}

	b.Open("/apps/" + a.ID + "?env=sandbox")
	b.Run(chromedp.Click(chromedp.CSS(`form.generate details:nth-of-type(2) summary`)),
		sendKeys("#gen-ruris", "https://spa.example.com/callback"), chromedp.Click(chromedp.CSS("#gen-public")))
	b.Submit(`form.generate button[type=submit]`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "public client is created") {
		t.Fatalf("after generating: %q", b.Body())
	}
	if b.Has("#client-secret") || b.Has("table.secrets") || b.Has(`form[action$="/secrets/reset"]`) || b.Has("details.new-secret") {
		t.Error("a public client's page shows secrets or secret actions")
	}
	cs, _, err := b.Server.App.Service.FindClients(context.Background(), p, keysmith.ClientFilter{AppID: a.ID})
	if err != nil || len(cs) != 1 {
		t.Fatalf("clients: %v %v", cs, err)
	}
	cl := cs[0]
	if !cl.Public() || !cl.PKCERequired || !slices.Equal(cl.RedirectURIs, []string{"https://spa.example.com/callback"}) ||
		!slices.Equal(cl.GrantTypes, []string{keysmith.GrantAuthorizationCode, keysmith.GrantRefreshToken}) {
		t.Errorf("generated client: %+v", cl)
	}
	if secs, _ := b.Server.App.Store.FindClientSecrets(context.Background(), cl.ID); len(secs) != 0 {
		t.Errorf("a public client has %d secrets", len(secs))
	}
	card := "#client-" + cl.ID
	if got := b.Text(card + " dl.client-facts"); !strings.Contains(got, "Public") || !strings.Contains(got, "https://spa.example.com/callback") {
		t.Errorf("facts: %q", got)
	}

	b.Run(chromedp.Click(chromedp.CSS(card + " details.client-settings summary")))
	if b.Has(card+` input[name=first_party]`) || !b.Has(card+` input[name=pkce_required][disabled][checked]`) ||
		!b.Has(card+` input[value=client_credentials][disabled]`) {
		t.Error("a developer's settings of a public client: first-party offered, or PKCE or client credentials not fixed")
	}
	shots(b, "client-public-settings")

	// A redirect URI over http to a host that is not loopback.
	b.Run(chromedp.SetValue(chromedp.CSS(card+" textarea[name=redirect_uris]"), "https://spa.example.com/callback\nhttp://spa.example.com/cb"))
	b.Submit(card + ` form[action$="/settings"] button[type=submit]`)
	if got := b.Text(card + ` textarea[name=redirect_uris] ~ p.field-error`); !strings.Contains(got, "http") {
		t.Errorf("the refused redirect URI's error is not beside it: %q; page %q", got, b.Body())
	}
	shots(b, "client-settings-error")
	if got := storedClient(b, cl.ID); len(got.RedirectURIs) != 1 {
		t.Errorf("a refused form changed the client: %v", got.RedirectURIs)
	}

	b.Run(chromedp.SetValue(chromedp.CSS(card+" textarea[name=redirect_uris]"), "https://spa.example.com/callback\n\nhttp://127.0.0.1:8080/cb\n"),
		chromedp.SetValue(chromedp.CSS(card+" textarea[name=post_logout_redirect_uris]"), "https://spa.example.com/"),
		chromedp.SetValue(chromedp.CSS(card+" input[name=refresh_token_idle_ttl]"), "3600"))
	b.Submit(card + ` form[action$="/settings"] button[type=submit]`)
	if got := b.Text(".alert-ok"); !strings.Contains(got, "settings are saved") {
		t.Fatalf("after saving: %q", b.Body())
	}
	got := storedClient(b, cl.ID)
	if !slices.Equal(got.RedirectURIs, []string{"https://spa.example.com/callback", "http://127.0.0.1:8080/cb"}) ||
		!slices.Equal(got.PostLogoutRedirectURIs, []string{"https://spa.example.com/"}) || got.PKCEAllowPlain || !got.PKCERequired ||
		got.RefreshTokenIdleTTL.Seconds() != 3600 || got.FirstParty || !got.Public() {
		t.Errorf("saved: %+v", got)
	}

	// Refresh tokens without the code grant are refused beside the grants.
	b.Run(chromedp.Click(chromedp.CSS(card+" details.client-settings summary")),
		chromedp.Click(chromedp.CSS(card+` input[value=authorization_code]`)))
	b.Submit(card + ` form[action$="/settings"] button[type=submit]`)
	if got := b.Text(card + ` fieldset p.field-error`); !strings.Contains(got, "refresh_token grant needs") {
		t.Errorf("grant error: %q", got)
	}

	// Developer → OAuth clients marks it public and offers no token.
	b.Open("/developer/clients")
	if !strings.Contains(b.Text("table.dev-clients"), "public") || b.Has(`a[href="/developer/clients/`+cl.ID+`/token"]`) {
		t.Errorf("developer clients: %q", b.Text("table.dev-clients"))
	}
	shots(b, "developer-clients-public")
	if code := getStatus(b, "/developer/clients/"+cl.ID+"/token"); code != 400 {
		t.Errorf("the token page of a public client: %d", code)
	}
}

// TestOrgAdminMarksAClientFirstParty: only an org admin sees the
// first-party box; once marked, the developer who owns the client may no
// longer change its settings, only revoke it.
func TestOrgAdminMarksAClientFirstParty(t *testing.T) {
	b := webtest.New(t)
	seedShop(b)
	p := signedInDeveloper(b, "dev@example.com")
	ctx, svc := context.Background(), b.Server.App.Service
	a, err := svc.CreateApp(ctx, p, keysmith.CreateAppInput{Name: "Shop web"})
	if err != nil {
		t.Fatal(err)
	}
	cl, sec, _, err := svc.CreateClient(ctx, p, keysmith.CreateClientInput{Name: "Web", AppID: a.ID, Environment: "production",
		GrantTypes: []string{keysmith.GrantAuthorizationCode}, RedirectURIs: []string{"https://shop.example.com/cb"}})
	if err != nil || sec == nil {
		t.Fatalf("confidential client: %v %v", sec, err)
	}
	card := "#client-" + cl.ID

	org := webtest.On(t, b.Server)
	webtest.AddPerson(t, b.Server, keysmith.RoleOrgAdmin, "org@example.com", "org@example.com password")
	org.SignIn("org@example.com", "org@example.com password")
	org.Open("/apps/" + a.ID)
	org.Run(chromedp.Click(chromedp.CSS(card + " details.client-settings summary")))
	if !org.Has(card+` input[name=first_party]:not([checked])`) || !org.Has(card+" table.secrets") {
		t.Fatal("the org admin sees no first-party box, or a confidential client's secrets are missing")
	}
	org.Run(chromedp.Click(chromedp.CSS(card + " input[name=first_party]")))
	shots(org, "client-confidential-settings")
	org.Submit(card + ` form[action$="/settings"] button[type=submit]`)
	if got := org.Text(".alert-ok"); !strings.Contains(got, "settings are saved") {
		t.Fatalf("after saving: %q", org.Body())
	}
	if got := storedClient(b, cl.ID); !got.FirstParty || got.PKCERequired != true {
		t.Errorf("saved: %+v", got)
	}

	b.Open("/apps/" + a.ID)
	if b.Has(card+" details.client-settings") || !strings.Contains(b.Text(card), "only org and super admins change") ||
		!b.Has(card+` form[action$="/revoke"]`) {
		t.Errorf("the owner's page of a first-party client: %q", b.Text(card))
	}
	if !strings.Contains(b.Text(card+" dl.client-facts"), "first-party") {
		t.Error("the facts do not say first-party")
	}
}

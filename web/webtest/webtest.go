// Package webtest drives the console in real headless Chromium (Debian's
// chromium, through chromedp) against a real Keysmith server (package
// apptest: the serve wiring on a fresh SQLite file, on 127.0.0.1). One
// Chromium process serves a test binary; each Browser is a fresh browser
// context in it, with its own cookies.
//
// Tests wait on conditions (WaitVisible, a page's text), never on sleeps.
// A failed step saves a screenshot under the test's temp dir and names it.
// With KEYSMITH_SCREENSHOTS=DIR, Shot saves every screenshot there too, for
// a person to look at.
package webtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
)

var (
	allocOnce   sync.Once
	allocCtx    context.Context
	allocCancel context.CancelFunc
	allocErr    error
	firstCtx    context.Context
)

// Main runs a package's tests and then stops its Chromium. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if allocCancel != nil {
		allocCancel()
	}
	os.Exit(code)
}

// chromiumPath finds Chromium: KEYSMITH_CHROMIUM, else chromium or
// google-chrome on the PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("KEYSMITH_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on the PATH (install Debian's chromium, or set KEYSMITH_CHROMIUM)")
}

// browser starts the package's Chromium once. Its flags keep it off the
// network (this machine's is closed) and run it as root in a container.
func browser(t *testing.T) context.Context {
	allocOnce.Do(func() {
		path, err := chromiumPath()
		if err != nil {
			allocErr = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("no-proxy-server", true),
			chromedp.WindowSize(1280, 900),
		)
		allocCtx, allocCancel = chromedp.NewExecAllocator(context.Background(), opts...)
		// Start the browser now, so that a failure to start is reported
		// once and clearly.
		firstCtx, _ = chromedp.NewContext(allocCtx) // owns the process until Main ends
		if err := chromedp.Do(firstCtx); err != nil {
			allocErr = fmt.Errorf("start %s: %w", path, err)
		}
	})
	if allocErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests need Chromium under CI: %v", allocErr)
		}
		t.Skipf("no browser: %v", allocErr)
	}
	return allocCtx
}

// Browser is one test's browser on a server.
type Browser struct {
	T      *testing.T
	Server *apptest.Server
	ctx    context.Context
	shots  int
}

// New starts a server on a fresh SQLite file and a browser for it.
func New(t *testing.T) *Browser {
	t.Helper()
	srv := apptest.Start(t, filepath.Join(t.TempDir(), "keysmith.db"), app.Config{})
	return On(t, srv)
}

// On opens another browser (its own cookies: another person) on srv.
func On(t *testing.T, srv *apptest.Server) *Browser {
	t.Helper()
	alloc := browser(t)
	// A browser context of its own, in the shared Chromium: the first
	// context (made in browser) owns the process.
	_ = alloc
	ctx, cancel := chromedp.NewContext(firstCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &Browser{T: t, Server: srv, ctx: ctx}
	b.Run(chromedp.EmulateViewport(1280, 900))
	return b
}

// Run runs actions, failing the test (with a screenshot) if one fails or
// they take longer than 20 s together.
func (b *Browser) Run(actions ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	Get(b, chromedp.Steps(actions...))
}

// Get runs an action that returns a value, failing the test as Run does.
func Get[T any](b *Browser, a chromedp.Action[T]) T {
	b.T.Helper()
	if b.ctx.Err() == nil && chromedp.FromContext(b.ctx).Target == nil {
		// The first run on a context starts its tab, which lives as long
		// as that run's context: give it the test's, not a timeout.
		if err := chromedp.Do(b.ctx); err != nil {
			b.T.Fatalf("open a tab: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		path := b.failureShot()
		b.T.Fatalf("browser: %v (screenshot: %s; page: %s)", err, path, b.location())
	}
	return v
}

func (b *Browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

func (b *Browser) failureShot() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "none (" + err.Error() + ")"
	}
	path := filepath.Join(b.T.TempDir(), "failure.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "none (" + err.Error() + ")"
	}
	if dir := os.Getenv("KEYSMITH_SCREENSHOTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, sanitize(b.T.Name())+"-failure.png"), png, 0o644)
	}
	return path
}

// Open loads a page of the server and waits for its heading.
func (b *Browser) Open(path string) {
	b.T.Helper()
	b.Run(chromedp.Navigate(b.Server.URL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// Text is the text of the first element matching a CSS selector, once it
// is visible.
func (b *Browser) Text(sel string) string {
	b.T.Helper()
	b.Run(chromedp.WaitVisible(chromedp.CSS(sel)))
	return Get(b, chromedp.Text(chromedp.CSS(sel)))
}

// Value is the value of the first input matching a CSS selector.
func (b *Browser) Value(sel string) string {
	b.T.Helper()
	b.Run(chromedp.WaitVisible(chromedp.CSS(sel)))
	return Get(b, chromedp.Value(chromedp.CSS(sel)))
}

// Has reports whether the page has an element matching a CSS selector now.
func (b *Browser) Has(sel string) bool {
	b.T.Helper()
	return Get(b, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel))) > 0
}

// Body is the text of the page's main element.
func (b *Browser) Body() string { return b.Text("main") }

// Submit clicks a submit button (a CSS selector) and waits for the next
// page's heading.
func (b *Browser) Submit(sel string) {
	b.T.Helper()
	// The old page is marked; the next one is not, so its h1 is the
	// next page's once no marked page is left.
	Get(b, chromedp.Evaluate[string](`document.documentElement.dataset.old = "1"`))
	b.Run(chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitNotPresent(chromedp.CSS(`html[data-old]`)),
		chromedp.WaitVisible(chromedp.CSS("h1")))
}

// SignIn signs in through the sign-in page and waits for the overview (or
// the page it was sent on to).
func (b *Browser) SignIn(email, password string) {
	b.T.Helper()
	b.Open("/sign-in")
	b.Run(chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password))
	b.Submit(`form[action="/sign-in"] button[type=submit]`)
	if b.Has(`form[action="/sign-in"]`) {
		b.T.Fatalf("sign-in as %s failed: %s", email, b.Body())
	}
}

// NoScript turns JavaScript off in this browser from the next page on.
func (b *Browser) NoScript() {
	b.T.Helper()
	b.Run(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
}

// Phone and Desktop set the viewport's width: 375 px (a phone) or 1280 px.
func (b *Browser) Phone()   { b.T.Helper(); b.Run(chromedp.EmulateViewport(375, 812)) }
func (b *Browser) Desktop() { b.T.Helper(); b.Run(chromedp.EmulateViewport(1280, 900)) }

// Shot saves a full-page screenshot under KEYSMITH_SCREENSHOTS (when set)
// as NAME.png, for a person to look at; without it, it does nothing.
func (b *Browser) Shot(name string) {
	b.T.Helper()
	dir := os.Getenv("KEYSMITH_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := Get(b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, sanitize(name)+".png"), png, 0o644); err != nil {
		b.T.Fatal(err)
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// SessionCookie is the browser's session cookie value ("" if none).
func (b *Browser) SessionCookie() string {
	b.T.Helper()
	res := Get(b, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.Server.URL}})
	})
	for _, c := range res.Cookies {
		if c.Name == "keysmith_session" {
			return c.Value
		}
	}
	return ""
}

// CSRF is the CSRF token of the page shown now.
func (b *Browser) CSRF() string {
	b.T.Helper()
	return Get(b, chromedp.Evaluate[string](`(document.querySelector("input[name=csrf_token]")||{}).value||""`))
}

// PostForm sends a form as a forged request would, from outside the page:
// with the browser's session cookie and the same origin, but whatever
// fields the test chooses. Redirects are not followed.
func (b *Browser) PostForm(path string, form url.Values) *http.Response {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodPost, b.Server.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.Server.URL)
	if c := b.SessionCookie(); c != "" {
		req.AddCookie(&http.Cookie{Name: "keysmith_session", Value: c})
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// AddPerson stores an active person of role with a password, directly (a
// seed), and returns their id.
func AddPerson(t *testing.T, srv *apptest.Server, role keysmith.Role, email, password string) string {
	t.Helper()
	id, _ := srv.AddUser(role, email)
	if _, err := srv.App.Service.SetPasswordByEmail(context.Background(), email, password); err != nil {
		t.Fatal(err)
	}
	return id
}

// a11yScript lists what a page does wrong for people using assistive
// technology: an input without a label, not exactly one h1, an image
// without alt, a button or link without text.
const a11yScript = `(() => {
  const problems = [];
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push("the page has " + h1 + " h1 elements, not 1");
  document.querySelectorAll("input, select, textarea").forEach(el => {
    if (el.type === "hidden") return;
    const id = el.id;
    const labelled = (id && document.querySelector("label[for='" + CSS.escape(id) + "']")) || el.closest("label") ||
      el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!labelled) problems.push("no label for " + el.outerHTML.slice(0, 120));
  });
  document.querySelectorAll("img").forEach(el => {
    if (!el.hasAttribute("alt")) problems.push("no alt on " + el.outerHTML.slice(0, 120));
  });
  document.querySelectorAll("svg:not([aria-hidden=true])").forEach(el => {
    if (!el.getAttribute("aria-label") && !el.querySelector("title")) problems.push("no text alternative for an svg");
  });
  document.querySelectorAll("button, a[href]").forEach(el => {
    const text = (el.textContent || "").trim() || el.getAttribute("aria-label") || el.getAttribute("title") ||
      (el.querySelector("img[alt]:not([alt=''])") ? "img" : "");
    if (!text) problems.push("no text for " + el.outerHTML.slice(0, 120));
  });
  return problems;
})()`

// CheckAccessibility reports the page's accessibility problems as test
// errors (see a11yScript).
func (b *Browser) CheckAccessibility() {
	b.T.Helper()
	problems := Get(b, chromedp.Evaluate[[]string](a11yScript))
	loc := b.location()
	for _, p := range problems {
		b.T.Errorf("accessibility, %s: %s", loc, p)
	}
}

package web_test

import (
	"os"

	"github.com/chromedp/chromedp"

	"github.com/keysmith/keysmith/web/webtest"
)

func sendKeys(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

// dismissConfirms answers every confirm dialog of the page with OK, as a
// person who means it would.
func dismissConfirms() chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`)
}

// shots checks the page's accessibility and, with KEYSMITH_SCREENSHOTS
// set, saves it at desktop and phone widths (without, resizing would only
// cost time).
func shots(b *webtest.Browser, name string) {
	b.T.Helper()
	b.CheckAccessibility()
	if os.Getenv("KEYSMITH_SCREENSHOTS") == "" {
		return
	}
	b.Shot(name + "-desktop")
	b.Phone()
	b.Shot(name + "-phone")
	b.Desktop()
}

package web_test

import "github.com/chromedp/chromedp"

func sendKeys(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

// dismissConfirms answers every confirm dialog of the page with OK, as a
// person who means it would.
func dismissConfirms() chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`)
}

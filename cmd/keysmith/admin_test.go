package main_test

import (
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var setupCodeRE = regexp.MustCompile(`ksu_[0-9A-Za-z]{38}`)

// TestFirstAdminSignsInWithoutCurl: the first start prints a setup code and
// the page to paste it in (never the code inside a URL); the code sets a
// password there; `keysmith admin set-password` changes it on the database
// of the running server, recorded in the system log.
func TestFirstAdminSignsInWithoutCurl(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keysmith.db")
	s := startServe(t, dir, nil, "--db", db)
	token := s.token()
	out := s.stdout.String()
	code := setupCodeRE.FindString(out)
	if code == "" || !strings.Contains(out, s.url+"/setup") {
		t.Fatalf("stdout lacks the setup code or the setup page:\n%s", out)
	}
	if strings.Contains(out, "setup?") || strings.Contains(s.stderr.String(), code) {
		t.Errorf("the setup code is in a URL or the log")
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(s.url+"/setup", url.Values{"code": {code}, "password": {"first password here"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: status %d", resp.StatusCode)
	}
	signIn := func(pw string) int {
		status, _ := s.call(t, "POST", "/v1/sessions", "", `{"email":"admin@localhost","password":"`+pw+`"}`)
		return status
	}
	if got := signIn("first password here"); got != http.StatusCreated {
		t.Fatalf("sign-in with the password set by the code: %d", got)
	}

	cmd := exec.Command(bin, "admin", "set-password", "--db", db, "--email", "admin@localhost")
	cmd.Stdin = strings.NewReader("second password here\n")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "Password set for admin@localhost") {
		t.Fatalf("admin set-password: %v\n%s", err, b)
	}
	if got := signIn("first password here"); got != http.StatusUnauthorized {
		t.Errorf("old password after set-password: %d, want 401", got)
	}
	if got := signIn("second password here"); got != http.StatusCreated {
		t.Errorf("new password after set-password: %d, want 201", got)
	}
	status, body := s.call(t, "GET", "/v1/logs?type=user.updated", token, "")
	data, _ := body["items"].([]any)
	if status != 200 || len(data) != 1 || data[0].(map[string]any)["actor"].(map[string]any)["type"] != "cli" {
		t.Errorf("system log of the change: %d %v", status, body)
	}

	for _, bad := range [][]string{
		{"admin", "set-password", "--db", db, "--email", "nobody@example.com"},
		{"admin", "set-password", "--db", db, "--email", "admin@localhost"},
	} {
		cmd := exec.Command(bin, bad...)
		cmd.Stdin = strings.NewReader("short\n")
		if b, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("%v succeeded: %s", bad, b)
		}
	}
}

package main_test

import (
	"bytes"
	"encoding/json"
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

// TestAdminCreateToken: `keysmith admin create-token` makes a working API
// token for a user on the database of a running server (a lost bootstrap
// token), prints it once, records it in the system log as the command's,
// and refuses deactivated and unknown users.
func TestAdminCreateToken(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keysmith.db")
	s := startServe(t, dir, nil, "--db", db)
	admin := s.token()
	createToken := func(args ...string) (stdout, stderr string, code int) {
		cmd := exec.Command(bin, append([]string{"admin", "create-token", "--db", db}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}

	out, errOut, code := createToken("--email", "Admin@localhost", "--name", "lost and found", "--json")
	var got struct {
		ID, Name, Token string
		OwnerEmail      string `json:"owner_email"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || !tokenRE.MatchString(got.Token) ||
		got.Name != "lost and found" || got.OwnerEmail != "admin@localhost" {
		t.Fatalf("create-token --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if status, _ := s.call(t, "GET", "/v1/tokens", got.Token, ""); status != http.StatusOK {
		t.Errorf("the new token: status %d", status)
	}
	status, body := s.call(t, "GET", "/v1/logs?type=api_token.created&target="+got.ID, admin, "")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 1 {
		t.Fatalf("system log of the new token: %d %v", status, body)
	}
	if actor := items[0].(map[string]any)["actor"].(map[string]any); actor["type"] != "cli" || actor["id"] != "admin create-token" {
		t.Errorf("the new token's event has actor %v, want the CLI", actor)
	}

	// Without --json: the secret alone on stdout, what it is on stderr.
	out, errOut, code = createToken("--email", "admin@localhost")
	if code != 0 || !tokenRE.MatchString(out) || strings.TrimSpace(out) != tokenRE.FindString(out) ||
		strings.Contains(errOut, tokenRE.FindString(out)) || !strings.Contains(errOut, "shown once") {
		t.Errorf("create-token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	status, body = s.call(t, "POST", "/v1/users", admin, `{"email":"gone@example.com","name":"Gone","role":"org_admin","type":"service"}`)
	if status != http.StatusCreated {
		t.Fatalf("create user: %d %v", status, body)
	}
	if status, body := s.call(t, "POST", "/v1/users/"+body["id"].(string)+"/deactivate", admin, ""); status != http.StatusOK {
		t.Fatalf("deactivate: %d %v", status, body)
	}
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--email", "gone@example.com"}, 1, "deactivated"},
		{[]string{"--email", "nobody@example.com"}, 1, "no user has the e-mail address"},
		{[]string{"--email", "admin@localhost", "--name", " "}, 1, "name must not be only white space"},
		{nil, 2, "--email is required"},
	} {
		out, errOut, code := createToken(c.args...)
		if code != c.code || out != "" || !strings.Contains(errOut, c.says) {
			t.Errorf("create-token %v: exit %d, stdout %q, stderr %q; want exit %d saying %q", c.args, code, out, errOut, c.code, c.says)
		}
	}
}

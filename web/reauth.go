package web

import (
	"net/http"
	"sort"
	"strings"

	"github.com/keysmith/keysmith"
)

// The step-up rule (keysmith.Service.RequireRecentAuth) in the browser: a
// form whose action returns or replaces a secret, sent after the session's
// password proof has grown old, is answered with a page that asks for the
// password and carries the form's own fields; sending it proves the password
// (under the sign-in limits) and then runs the action, once. It works
// without JavaScript: the "dialog" is a page.

// reauthField is the field that carries the password on such a form.
const reauthField = "reauth_password"

// reauthenticate checks the password a form carries and renews the
// session's proof; done reports that it answered the request itself (a
// wrong password: the prompt again).
func (s *Server) reauthenticate(w http.ResponseWriter, r *http.Request, c *Caller) (done bool, err error) {
	pw := r.PostForm.Get(reauthField)
	r.PostForm.Del(reauthField)
	r.Form.Del(reauthField)
	if _, err := s.Gate.Reauthenticate(w, r, c.Principal, pw); err != nil {
		if keysmith.ErrorCode(err) == keysmith.CodeUnauthorized || keysmith.ErrorCode(err) == keysmith.CodeInvalid {
			s.askPassword(w, r, c, "That password is wrong. Try again.")
			return true, nil
		}
		return false, err
	}
	sess := *c.Session
	sess.AuthenticatedAt = s.Service.Now()
	c.Session, c.Reauthenticated = &sess, true
	return false, nil
}

type hiddenField struct{ Name, Value string }

// askPassword answers a form that needs a recent password with the prompt,
// repeating the form's fields (what the person typed: names, choices; the
// secret the action will make does not exist yet) so that confirming runs
// the action they asked for.
func (s *Server) askPassword(w http.ResponseWriter, r *http.Request, c *Caller, problem string) {
	var fields []hiddenField
	names := make([]string, 0, len(r.PostForm))
	for n := range r.PostForm {
		if n != "csrf_token" && n != reauthField && !strings.Contains(n, "secret") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range r.PostForm[n] {
			fields = append(fields, hiddenField{n, v})
		}
	}
	s.renderPasswordPrompt(w, r, c, fields, problem)
}

// renderPasswordPrompt shows the password prompt for a form posted to this
// request's path, carrying fields. Its reason depends on the page: a
// secret to be made, or an application asking for a fresh sign-in.
func (s *Server) renderPasswordPrompt(w http.ResponseWriter, r *http.Request, c *Caller, fields []hiddenField, problem string) {
	reason := "This action creates or replaces a secret. To keep a borrowed or stolen browser session from doing that, Keysmith asks for your password when you have not given it in the last few minutes."
	if r.URL.Path == authorizePath {
		for _, f := range fields {
			if f.Name == authorizeField {
				s.allowSignInRedirect(w, r, authorizePath+"?"+f.Value)
			}
		}
		reason = "The application asks that you prove it is you before it may act for you: enter your password again."
	}
	s.render(w, r, c, http.StatusUnauthorized, "reauth", "Confirm it's you", map[string]any{
		"Action": r.URL.Path, "Fields": fields, "Problem": problem, "Field": reauthField, "Reason": reason,
	})
}

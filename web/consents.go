package web

import (
	"net/http"
	"net/url"
)

// The apps a person has authorised (consents, keysmith.Consent): every
// role has the page, since anyone with an account may sign in to an
// application, and only their own consents are on it.

func (s *Server) consentRoutes(mux *http.ServeMux) {
	mux.Handle("GET /authorized-apps", s.page(s.consentsPage))
	mux.Handle("POST /authorized-apps/{client_id}/revoke", s.page(s.revokeConsent))
}

func (s *Server) consentsPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	apps, err := s.Service.FindAuthorizedApps(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	notice := ""
	if name := r.URL.Query().Get("revoked"); name != "" {
		notice = "Access withdrawn from " + truncate(name, 200) + ". It must ask you again to act for you."
	}
	s.render(w, r, c, http.StatusOK, "consents", "Apps you have authorised", map[string]any{
		"Apps": apps, "Notice": notice,
	})
	return nil
}

// revokeConsent withdraws the caller's consent to a client, and with it
// every token the client holds for them.
func (s *Server) revokeConsent(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("client_id")
	if err := s.Service.RevokeConsent(r.Context(), c.Principal, id); err != nil {
		return err
	}
	name := r.PostForm.Get("name")
	if name == "" {
		name = id
	}
	return redirect(w, r, "/authorized-apps?revoked="+url.QueryEscape(truncate(name, 200)))
}

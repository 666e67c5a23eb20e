package web

import (
	"net/http"
	"strings"

	"github.com/keysmith/keysmith"
)

func (s *Server) trustedOriginRoutes(mux *http.ServeMux) {
	mux.Handle("GET /trusted-origins", s.page(s.trustedOriginsPage))
	mux.Handle("POST /trusted-origins", s.page(s.createTrustedOrigin))
	mux.Handle("POST /trusted-origins/{id}/delete", s.page(s.deleteTrustedOrigin))
}

func (s *Server) trustedOriginsPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "created":
		notice = "The origin was added."
	case "deleted":
		notice = "The origin was deleted."
	}
	return s.renderTrustedOrigins(w, r, c, http.StatusOK, form{}, notice)
}

func (s *Server) renderTrustedOrigins(w http.ResponseWriter, r *http.Request, c *Caller, status int, f form, notice string) error {
	os, err := s.Service.FindTrustedOrigins(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	s.render(w, r, c, status, "trusted_origins_list", "Trusted origins", map[string]any{
		"Origins": os, "CanEdit": keysmith.CanEditTrustedOrigins(c.User), "Form": f, "Notice": notice,
		"Max": keysmith.MaxTrustedOrigins,
	})
	return nil
}

func (s *Server) createTrustedOrigin(w http.ResponseWriter, r *http.Request, c *Caller) error {
	_, err := s.Service.CreateTrustedOrigin(r.Context(), c.Principal, strings.TrimSpace(r.PostForm.Get("origin")))
	if isFormError(err) {
		return s.renderTrustedOrigins(w, r, c, http.StatusBadRequest, form{Values: r.PostForm, Errors: formError(err, "origin")}, "")
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/trusted-origins?done=created")
}

func (s *Server) deleteTrustedOrigin(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if err := s.Service.DeleteTrustedOrigin(r.Context(), c.Principal, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/trusted-origins?done=deleted")
}

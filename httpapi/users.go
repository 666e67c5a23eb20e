package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// userJSON is a user as the API shows it. It has no password field: the
// hash never leaves the store except to be checked.
type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u *keysmith.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), Type: string(u.Type),
		Status: string(u.Status), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (s *Server) userRoutes(mux routes) {
	mux.Handle("POST /v1/users", s.authed(s.createUser))
	mux.Handle("GET /v1/users", s.authed(s.listUsers))
	mux.Handle("GET /v1/users/{id}", s.authed(s.getUser))
	mux.Handle("PATCH /v1/users/{id}", s.authed(s.updateUser))
	mux.Handle("POST /v1/users/{id}/deactivate", s.authed(s.setUserStatus(keysmith.UserInactive)))
	mux.Handle("POST /v1/users/{id}/activate", s.authed(s.setUserStatus(keysmith.UserActive)))
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Email    string  `json:"email"`
		Name     string  `json:"name"`
		Role     string  `json:"role"`
		Type     string  `json:"type"`
		Password *string `json:"password"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	u, err := s.Service.CreateUser(r.Context(), p, keysmith.CreateUserInput{Email: req.Email, Name: req.Name,
		Role: keysmith.Role(req.Role), Type: keysmith.UserType(req.Type), Password: req.Password})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	writeJSON(w, http.StatusCreated, toUserJSON(u))
	return nil
}

func userFilter(r *http.Request) (keysmith.UserFilter, error) {
	q, page, err := listQuery(r, "q", "role", "status")
	return keysmith.UserFilter{Query: q.Get("q"), Role: keysmith.Role(q.Get("role")),
		Status: keysmith.UserStatus(q.Get("status")), Page: page}, err
}

func writeUsers(w http.ResponseWriter, us []*keysmith.User, next string) {
	items := make([]userJSON, len(us))
	for i, u := range us {
		items[i] = toUserJSON(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	f, err := userFilter(r)
	if err != nil {
		return err
	}
	us, next, err := s.Service.FindUsers(r.Context(), p, f)
	if err != nil {
		return err
	}
	writeUsers(w, us, next)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	u, err := s.Service.FindUserByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Email    *string `json:"email"`
		Name     *string `json:"name"`
		Role     *string `json:"role"`
		Password *string `json:"password"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	up := keysmith.UserUpdate{Email: req.Email, Name: req.Name, Password: req.Password}
	if req.Role != nil {
		role := keysmith.Role(*req.Role)
		up.Role = &role
	}
	u, err := s.Service.UpdateUser(r.Context(), p, r.PathValue("id"), up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

// setUserStatus answers POST /v1/users/{id}/deactivate and /activate, which
// take no body. Both are idempotent.
func (s *Server) setUserStatus(st keysmith.UserStatus) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
		u, err := s.Service.SetUserStatus(r.Context(), p, r.PathValue("id"), st)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toUserJSON(u))
		return nil
	}
}

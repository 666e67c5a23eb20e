package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/keysmith/keysmith"
)

func (s *Server) rateLimitRoutes(mux *http.ServeMux) {
	mux.Handle("GET /rate-limits", s.page(s.rateLimitsPage))
	mux.Handle("POST /rate-limits", s.page(s.saveRateLimits))
	mux.Handle("POST /rate-limits/reset", s.page(s.resetRateLimits))
}

// rateLimitGroup is one row of the rate-limit form.
type rateLimitGroup struct {
	Group       keysmith.APIGroup
	Label, Help string
	Value       string // as stored, or as typed when the form comes back
	Default     int
	Error       string
}

// rateLimitHelp says what each group counts, for people.
var rateLimitHelp = map[keysmith.APIGroup][2]string{
	keysmith.GroupTokens:           {"Tokens API", "Requests to /v1/tokens, per user (each token gets its share)."},
	keysmith.GroupUsers:            {"Users API", "Requests to the users, groups and sessions endpoints, per user."},
	keysmith.GroupApps:             {"Applications API", "Requests to the applications and OAuth clients endpoints, per user."},
	keysmith.GroupOAuth:            {"OAuth", "Requests to the OAuth endpoints, per user."},
	keysmith.GroupLogs:             {"System log API", "Reads and exports of the system log, per user."},
	keysmith.GroupZones:            {"Network zones API", "Requests to /v1/zones and /v1/trusted-origins, per user."},
	keysmith.GroupSettings:         {"Settings API", "Requests to /v1/settings, per user."},
	keysmith.GroupAgents:           {"Agents API", "Requests to /v1/agents, per user."},
	keysmith.GroupVerified:         {"Verified requests", "Successful verifies of a token: the requests it made to your API."},
	keysmith.GroupFailedSignIns:    {"Failed sign-ins", "Failed sign-ins per source address."},
	keysmith.GroupFailedClientAuth: {"Failed client authentications", "Failed OAuth client authentications per source address."},
	keysmith.GroupDenied:           {"Refused requests", "Requests refused with 403, per token (or per address without one)."},
	keysmith.GroupUnknownTokens:    {"Unknown tokens", "Lookups of unknown tokens per source address."},
	keysmith.GroupTokenIssuance:    {"Token issuance", "Access tokens issued to each OAuth client."},
}

// rateLimitGroups lists the groups with their values: limits as stored, or
// typed (a form shown again), with errors by group.
func rateLimitGroups(l keysmith.RateLimits, typed map[keysmith.APIGroup]string, errs map[keysmith.APIGroup]string) []rateLimitGroup {
	defaults := keysmith.DefaultRateLimits()
	var out []rateLimitGroup
	for _, g := range l.Groups() {
		h := rateLimitHelp[g]
		if h[0] == "" {
			h[0] = string(g)
		}
		v, ok := typed[g]
		if !ok {
			v = strconv.Itoa(l[g])
		}
		out = append(out, rateLimitGroup{Group: g, Label: h[0], Help: h[1], Value: v, Default: defaults[g], Error: errs[g]})
	}
	return out
}

func (s *Server) rateLimitsPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	l, err := s.Service.RateLimits(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "saved":
		notice = "The rate limits were saved. Every replica applies them to its next request."
	case "reset":
		notice = "Every rate limit is back to its default."
	}
	s.renderRateLimits(w, r, c, http.StatusOK, rateLimitGroups(l, nil, nil), "", notice)
	return nil
}

func (s *Server) renderRateLimits(w http.ResponseWriter, r *http.Request, c *Caller, status int, groups []rateLimitGroup, formErr, notice string) {
	s.render(w, r, c, status, "ratelimits", "Rate limits", map[string]any{
		"Groups": groups, "Error": formErr, "Notice": notice, "Window": keysmith.RateLimitWindow,
	})
}

// saveRateLimits sets every group's limit from the form. A value that is
// not a whole number is shown beside its field; the domain judges the rest
// (its message names the group, so it goes beside that one).
func (s *Server) saveRateLimits(w http.ResponseWriter, r *http.Request, c *Caller) error {
	l := keysmith.RateLimits{}
	typed := map[keysmith.APIGroup]string{}
	errs := map[keysmith.APIGroup]string{}
	for _, g := range l.Groups() {
		v := strings.TrimSpace(r.PostForm.Get(string(g)))
		if v == "" {
			continue // absent groups keep their default
		}
		typed[g] = v
		n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
		if err != nil {
			errs[g] = "Enter a whole number of requests per minute."
			continue
		}
		l[g] = n
	}
	var err error
	if len(errs) == 0 {
		_, err = s.Service.SetRateLimits(r.Context(), c.Principal, l)
		if err == nil {
			return redirect(w, r, "/rate-limits?done=saved")
		}
		if !isFormError(err) {
			return err
		}
	}
	current, cerr := s.Service.RateLimits(r.Context(), c.Principal)
	if cerr != nil {
		return cerr
	}
	formErr := ""
	if err != nil {
		formErr = keysmith.ErrorMessage(err)
		for g := range typed {
			if strings.Contains(formErr, strconv.Quote(string(g))) {
				errs[g], formErr = formErr, ""
				break
			}
		}
	}
	s.renderRateLimits(w, r, c, http.StatusBadRequest, rateLimitGroups(current, typed, errs), formErr, "")
	return nil
}

// resetRateLimits puts every group back to its default: the domain fills
// in the default of each group a change leaves out.
func (s *Server) resetRateLimits(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if _, err := s.Service.SetRateLimits(r.Context(), c.Principal, keysmith.RateLimits{}); err != nil {
		return err
	}
	return redirect(w, r, "/rate-limits?done=reset")
}

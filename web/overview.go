package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/keysmith/keysmith"
)

func (s *Server) overviewRoutes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", s.page(s.overview))
}

// expiringWithin is how far ahead the overview lists expiring tokens.
const expiringWithin = 7 * 24 * time.Hour

// overviewListSize bounds each of the overview's short lists.
const overviewListSize = 10

// statCard is one count of the overview: tokens of a status, linking to
// their list.
type statCard struct {
	Status keysmith.TokenStatus
	Count  int
	Link   string
}

// expiringToken is a token of the "expiring soon" list, with the moment it
// expires (the earlier of its absolute and idle expiry).
type expiringToken struct {
	*keysmith.Token
	ExpiresAt time.Time
	In        string // "in 3 days", by the service's clock
}

// inWords says how far ahead d is, roughly ("in 3 days", "in 5 hours").
func inWords(d time.Duration) string {
	switch {
	case d < time.Hour:
		return "within the hour"
	case d < 48*time.Hour:
		return "in " + plural(int(d/time.Hour), "hour")
	}
	return "in " + plural(int(d/(24*time.Hour)), "day")
}

// overview is what an admin checks each morning: the tokens they may see by
// status, those that expire within a week, the suspicious ones, and (for
// those who may read it) the latest events of the system log. The service
// decides whose tokens count: a developer's own, an admin's all.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, c *Caller) error {
	ctx := r.Context()
	sum, err := s.Service.SummarizeTokens(ctx, c.Principal)
	if err != nil {
		return err
	}
	var cards []statCard
	for _, st := range []keysmith.TokenStatus{keysmith.TokenActive, keysmith.TokenExpired, keysmith.TokenRevoked,
		keysmith.TokenDisabled, keysmith.TokenSuspicious} {
		cards = append(cards, statCard{Status: st, Count: sum.ByStatus[st], Link: "/tokens?" + url.Values{"status": {string(st)}}.Encode()})
	}
	now := s.Service.Now()
	soon, _, err := s.Service.FindTokens(ctx, c.Principal, keysmith.TokenFilter{Status: keysmith.TokenActive,
		Sort: keysmith.SortExpiresAt, Order: keysmith.OrderAsc, Page: keysmith.Page{Limit: overviewListSize}})
	if err != nil {
		return err
	}
	var expiring []expiringToken
	for _, t := range soon {
		at := t.EffectiveExpiresAt()
		if at.Sub(now) > expiringWithin {
			break // sorted by it: the rest expire later
		}
		expiring = append(expiring, expiringToken{t, at, inWords(at.Sub(now))})
	}
	suspicious, _, err := s.Service.FindTokens(ctx, c.Principal, keysmith.TokenFilter{Status: keysmith.TokenSuspicious,
		Page: keysmith.Page{Limit: overviewListSize}})
	if err != nil {
		return err
	}
	data := map[string]any{"Total": sum.Total, "Cards": cards, "Expiring": expiring, "Suspicious": suspicious,
		"MoreSuspicious": sum.ByStatus[keysmith.TokenSuspicious] > len(suspicious), "OnlyOwn": !keysmith.CanSeeAllTokens(c.User),
		"MoreExpiring": len(expiring) == overviewListSize}
	if keysmith.CanReadLogs(c.User) {
		evs, _, err := s.Service.FindEvents(ctx, c.Principal, keysmith.EventFilter{Page: keysmith.Page{Limit: overviewListSize}})
		if err != nil {
			return err
		}
		data["Events"] = evs
		data["CanReadLogs"] = true
	}
	s.render(w, r, c, http.StatusOK, "overview", "Overview", data)
	return nil
}

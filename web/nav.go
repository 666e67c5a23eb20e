package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// navItem is one entry of the navigation.
type navItem struct {
	Label string
	Path  string
}

// navFor lists the pages a user's role may open, so that nobody is shown a
// link that would only answer 403. The pages check again: hiding a link is
// comfort, not control.
func navFor(u *keysmith.User) []navItem {
	items := []navItem{{"Overview", "/"}, {"Tokens", "/tokens"}}
	if keysmith.CanSeeUsers(u) {
		items = append(items, navItem{"Users", "/users"})
	}
	if keysmith.CanSeeGroups(u) {
		items = append(items, navItem{"Groups", "/groups"})
	}
	if keysmith.CanSeeZones(u) {
		items = append(items, navItem{"Network zones", "/zones"})
	}
	if keysmith.CanSeeTrustedOrigins(u) {
		items = append(items, navItem{"Trusted origins", "/trusted-origins"})
	}
	if keysmith.IsAdmin(u.Role) {
		items = append(items, navItem{"Key managers", "/key-managers"})
	}
	if keysmith.CanEditRateLimits(u) {
		items = append(items, navItem{"Rate limits", "/rate-limits"})
	}
	items = append(items, navItem{"Agents", "/agents"})
	if keysmith.CanReadLogs(u) {
		items = append(items, navItem{"System log", "/logs"})
	}
	// The developer portal: everyone has applications and reads the APIs.
	items = append(items, navItem{"Applications", "/apps"}, navItem{"APIs", "/apis"},
		navItem{"OAuth clients", "/developer/clients"}, navItem{"API keys", "/developer/keys"},
		navItem{"Authorised apps", "/authorized-apps"})
	return items
}

// funcs are the helpers templates may call. Distances in time are from the
// service's clock, the one every expiry rule uses.
func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"roleName":  roleName,
		"when":      when,
		"ago":       func(t any) string { return ago(s.Service.Now(), t) },
		"statusTag": statusTag,
		"active": func(current, item string) bool {
			return current == item || item != "/" && strings.HasPrefix(current, item+"/")
		},
		"percent": func(f float64) string { return fmt.Sprintf("%.0f %%", f*100) },
	}
}

// roleName is a role as people read it.
func roleName(r keysmith.Role) string {
	switch r {
	case keysmith.RoleSuperAdmin:
		return "Super admin"
	case keysmith.RoleOrgAdmin:
		return "Org admin"
	case keysmith.RoleGroupAdmin:
		return "Group admin"
	case keysmith.RoleGroupMembershipAdmin:
		return "Group membership admin"
	case keysmith.RoleReadOnlyAdmin:
		return "Read-only admin"
	case keysmith.RoleDeveloper:
		return "Developer"
	}
	return string(r)
}

// when formats a time for a table cell (UTC, to the minute); a nil or zero
// time is "never".
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "never"
		}
		return v.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if v == nil || v.IsZero() {
			return "never"
		}
		return v.UTC().Format("2006-01-02 15:04 UTC")
	}
	return ""
}

// ago is a rough distance from now ("3 hours ago", "2 days from now").
func ago(now time.Time, t any) string {
	var v time.Time
	switch x := t.(type) {
	case time.Time:
		v = x
	case *time.Time:
		if x != nil {
			v = *x
		}
	}
	if v.IsZero() {
		return "never"
	}
	d := v.Sub(now)
	suffix := "from now"
	if d < 0 {
		d, suffix = -d, "ago"
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	return s + " " + suffix
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// tag is a status as shown: a coloured dot (class) beside its word, never
// the colour alone.
type tag struct {
	Class, Word string
}

// statusTag maps a status word (token, user, agent) to its colour: green
// for active, gray for expired or deactivated, red for revoked, yellow for
// suspicious, blue for disabled, so that a disabled token no longer reads as
// a working one.
func statusTag(status any) tag {
	s := fmt.Sprint(status)
	switch s {
	case "active":
		return tag{"dot-green", "Active"}
	case "expired":
		return tag{"dot-gray", "Expired"}
	case "deactivated", "inactive", "pending":
		return tag{"dot-gray", strings.ToUpper(s[:1]) + s[1:]}
	case "revoked":
		return tag{"dot-red", "Revoked"}
	case "suspicious":
		return tag{"dot-yellow", "Suspicious"}
	case "disabled":
		return tag{"dot-blue", "Disabled"}
	}
	if s == "" {
		return tag{"dot-gray", "Unknown"}
	}
	return tag{"dot-gray", strings.ToUpper(s[:1]) + s[1:]}
}

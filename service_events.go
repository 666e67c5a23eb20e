package keysmith

import "context"

// FindEvents lists system-log events for an admin.
func (s *Service) FindEvents(ctx context.Context, p Principal, f EventFilter) ([]*Event, string, error) {
	if err := canReadLogs(p, &f); err != nil {
		return nil, "", err
	}
	return s.Store.FindEvents(ctx, f)
}

// ExportEvents streams system-log events, oldest first, for an admin.
func (s *Service) ExportEvents(ctx context.Context, p Principal, f EventFilter, fn func(*Event) error) error {
	f.Page = Page{}
	if err := canReadLogs(p, &f); err != nil {
		return err
	}
	return s.Store.ExportEvents(ctx, f, fn)
}

func canReadLogs(p Principal, f *EventFilter) error {
	if !CanReadLogs(p.User) {
		return Errorf(CodeForbidden, "role %s may not read the system log; ask an admin", p.User.Role)
	}
	return f.Validate()
}

// RecordAccessDenied records access.denied, with the actor of ctx's Audit,
// for a request refused with 403: its method, path, matched route ("" if
// none) and the reason it was given.
func (s *Service) RecordAccessDenied(ctx context.Context, method, path, route, reason string) error {
	details := map[string]any{"method": method, "path": path, "reason": reason}
	if route != "" {
		details["route"] = route
	}
	return s.Store.RecordEvent(ctx, EventAccessDenied, OutcomeDenied, details)
}

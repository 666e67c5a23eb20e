package web

import (
	"net/url"
	"strings"

	"github.com/keysmith/keysmith"
)

// form is a submitted form shown again with its errors: Values as typed
// (never a secret), Errors by field name, "" for the form as a whole.
type form struct {
	Values url.Values
	Errors map[string]string
}

// Get is the typed value of a field.
func (f form) Get(name string) string { return f.Values.Get(name) }

// Has reports whether the field holds value among its values (a ticked
// checkbox of several with one name).
func (f form) Has(name, value string) bool {
	for _, v := range f.Values[name] {
		if v == value {
			return true
		}
	}
	return false
}

// Err is the error beside a field ("" for none).
func (f form) Err(name string) string { return f.Errors[name] }

// formError places a domain error beside the field it is about: the domain
// names the field first in its messages ("name must be …", "network: …"),
// so the first of fields that starts the message (ignoring case, and
// underscores read as spaces) takes it; otherwise it is about the whole
// form. Errors that are not the caller's to fix (internal, forbidden) are
// not form errors: handlers return them.
func formError(err error, fields ...string) map[string]string {
	msg := keysmith.ErrorMessage(err)
	low := strings.ToLower(msg)
	for _, f := range fields {
		name := strings.ToLower(f)
		if strings.HasPrefix(low, name) || strings.HasPrefix(low, strings.ReplaceAll(name, "_", " ")) {
			return map[string]string{f: msg}
		}
	}
	return map[string]string{"": msg}
}

// isFormError reports whether err is the user's to fix in the form (so the
// form is shown again with it) rather than an error page.
func isFormError(err error) bool {
	switch keysmith.ErrorCode(err) {
	case keysmith.CodeInvalid, keysmith.CodeConflict, keysmith.CodeUpstream:
		return true
	}
	return false
}

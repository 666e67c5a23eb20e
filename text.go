package keysmith

import (
	"strings"
	"unicode/utf8"
)

// Every string a request carries (ids, query parameters, form values, JSON
// strings, headers kept as data) must be text that every engine can store:
// valid UTF-8 without NUL. PostgreSQL refuses both in TEXT columns, SQLite
// takes them, so without this rule one request would get different answers
// on the two engines. The HTTP layer checks it at the edge, naming the field;
// the store checks every argument again before the driver sees it.

// ValidText reports whether s is valid UTF-8 without a NUL character.
func ValidText(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// CheckText returns a CodeInvalid error naming what (for example `field
// "name"`) if s is not valid text, and nil if it is.
func CheckText(what, s string) error {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return Errorf(CodeInvalid, "%s contains a NUL character (\\u0000); remove it", what)
	case !utf8.ValidString(s):
		return Errorf(CodeInvalid, "%s is not valid UTF-8; send text encoded as UTF-8", what)
	}
	return nil
}

package cli

import "testing"

// What the server says reaches a terminal without its control characters
// (an ESC sequence could rewrite the screen or the clipboard).
func TestTextEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                "plain",
		"a\x1b]52;c;Zm9v\x07b": `a\u001b]52;c;Zm9v\u0007b`,
		"c1\u009bcsi":          `c1\u009bcsi`,
		"línea\nsiguiente":     `línea\u000asiguiente`,
	} {
		if got := text(in); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
	if got := text(map[string]any{"k": "\x1b[2J"}); got != `{"k":"\u001b[2J"}` {
		t.Errorf("text(object) = %q", got)
	}
}

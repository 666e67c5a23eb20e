package keysmith

import "testing"

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Code
	}{
		{"", ""},
		{"plain", ""},
		{"façade 日本 🙂", ""},
		{"a\x00b", CodeInvalid},
		{"\x00", CodeInvalid},
		{"a\xffb", CodeInvalid},
		{"\xc3", CodeInvalid},         // a truncated two-byte sequence
		{"\xed\xa0\x80", CodeInvalid}, // a UTF-16 surrogate
	} {
		err := CheckText(`field "x"`, c.in)
		if got := ErrorCode(err); got != c.want {
			t.Errorf("CheckText(%q) = %v, want code %q", c.in, err, c.want)
		}
		if ValidText(c.in) != (c.want == "") {
			t.Errorf("ValidText(%q) = %v", c.in, ValidText(c.in))
		}
	}
}

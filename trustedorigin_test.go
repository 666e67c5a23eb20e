package keysmith

import "testing"

func TestParseOrigin(t *testing.T) {
	t.Run("NormalisesAsBrowsersSendOrigins", func(t *testing.T) {
		for in, want := range map[string]string{
			"https://app.example.com":       "https://app.example.com",
			" HTTPS://App.Example.COM ":     "https://app.example.com",
			"https://app.example.com:443":   "https://app.example.com",
			"https://app.example.com:8443":  "https://app.example.com:8443",
			"https://app.example.com:08443": "https://app.example.com:8443",
			"http://localhost:3000":         "http://localhost:3000",
			"http://LOCALHOST:80":           "http://localhost",
			"http://127.0.0.1:5173":         "http://127.0.0.1:5173",
			"http://[::1]:8080":             "http://[::1]:8080",
			"https://[2001:DB8::0001]":      "https://[2001:db8::1]",
			"https://203.0.113.7:444":       "https://203.0.113.7:444",
			"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
			"https://a-b.c-d.example.co.uk": "https://a-b.c-d.example.co.uk",
		} {
			got, err := ParseOrigin(in)
			if err != nil || got != want {
				t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
	})
	t.Run("RefusesWhatIsNotAnOriginOrNotSafe", func(t *testing.T) {
		for _, in := range []string{
			"", "null", "*", "https://*.example.com", "app.example.com", "//app.example.com", "https:app.example.com",
			"http://app.example.com", "http://localhost.evil.com", "http://127.0.0.2", "ws://localhost",
			"https://app.example.com/", "https://app.example.com/x", "https://app.example.com?", "https://app.example.com#",
			"https://u@app.example.com", "https://app.example.com:", "https://app.example.com:0", "https://app.example.com:65536",
			"https://-app.example.com", "https://app..example.com", "https://app.example.com.", "https://app_1.example.com",
			"https://[fe80::1%25eth0]", "https://[203.0.113.7]", "https://bücher.example", "https://a b.example",
			"https://" + string(make([]byte, 300)),
		} {
			if got, err := ParseOrigin(in); ErrorCode(err) != CodeInvalid {
				t.Errorf("ParseOrigin(%q) = %q, %v; want CodeInvalid", in, got, err)
			}
		}
	})
}

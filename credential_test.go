package keysmith_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
)

func TestCredentialForms(t *testing.T) {
	issued := []struct {
		form   keysmith.CredentialForm
		new    func() (keysmith.Secret, keysmith.Hash)
		parse  func(string) (keysmith.Hash, bool)
		prefix string
		length int
	}{
		{keysmith.APITokenForm, keysmith.NewAPITokenSecret, keysmith.ParseAPIToken, "ks_", 41},
		{keysmith.AccessTokenForm, keysmith.NewOpaqueAccessToken, keysmith.ParseOpaqueAccessToken, "ksa_", 42},
		{keysmith.SessionForm, keysmith.NewSessionSecret, keysmith.ParseSessionSecret, "ksb_", 42},
		{keysmith.ClientSecretForm, keysmith.NewClientSecret, keysmith.ParseClientSecret, "ksc_", 53},
		{keysmith.RegistrationTokenForm, keysmith.NewRegistrationToken, keysmith.ParseRegistrationToken, "ksi_", 42},
		{keysmith.RegistrationAccessForm, keysmith.NewRegistrationAccessToken, keysmith.ParseRegistrationAccessToken, "ksm_", 42},
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("EveryKindHasItsOwnPrefixAndAChecksum", func(t *testing.T) {
		for _, c := range issued {
			secret, hash := c.new()
			s := secret.Reveal()
			body := s[len(c.prefix) : len(s)-6]
			if !strings.HasPrefix(s, c.prefix) || len(s) != c.length || c.form.Len() != c.length ||
				!isBase62(body) || s[len(s)-6:] != checksum(body) {
				t.Errorf("%s %q: want %s + base62 + the checksum of the random part, %d characters", c.form.Kind, s, c.prefix, c.length)
			}
			if kind, ok := keysmith.Classify(s); !ok || kind != c.form.Kind {
				t.Errorf("Classify(%s) = %q, %v; want %q", c.prefix+"…", kind, ok, c.form.Kind)
			}
			if h, ok := c.parse(s); !ok || h != hash || hash != keysmith.HashOf(s) {
				t.Errorf("%s does not parse back to its hash", c.form.Kind)
			}
			flipped := []byte(s)
			flipped[len(c.prefix)+3] ^= 'a' ^ 'b'
			if _, ok := keysmith.Classify(string(flipped)); ok {
				t.Errorf("%s with one character changed is still classified: the checksum is not checked", c.form.Kind)
			}
		}
	})

	t.Run("EachPatternMatchesItsKindOnly", func(t *testing.T) {
		for _, c := range issued {
			secret, _ := c.new()
			text := "config: secret=" + secret.Reveal() + "\n"
			for _, f := range keysmith.CredentialForms {
				matched := regexp.MustCompile(f.Pattern()).FindString(text) == secret.Reveal()
				if want := f == c.form; matched != want {
					t.Errorf("pattern %s of %s (legacy %v) on a %s: matched %v, want %v", f.Pattern(), f.Kind, f.Legacy, c.form.Kind, matched, want)
				}
			}
		}
	})

	t.Run("LegacyKssSecretsAreStillRecognised", func(t *testing.T) {
		for _, c := range []struct {
			s     string
			kind  keysmith.CredentialKind
			parse func(string) (keysmith.Hash, bool)
		}{
			{"kss_" + strings.Repeat("A1b", 10) + "xy", keysmith.CredentialSession, keysmith.ParseSessionSecret},
			{"kss_" + strings.Repeat("A1b", 14) + "x", keysmith.CredentialClientSecret, keysmith.ParseClientSecret},
		} {
			if kind, ok := keysmith.Classify(c.s); !ok || kind != c.kind {
				t.Errorf("Classify(legacy %s) = %q, %v", c.kind, kind, ok)
			}
			if _, ok := c.parse(c.s); !ok {
				t.Errorf("a legacy %s is refused", c.kind)
			}
		}
		if _, ok := keysmith.ParseSessionSecret("kss_" + strings.Repeat("A1b", 14) + "x"); ok {
			t.Error("a legacy client secret parses as a session")
		}
	})

	t.Run("TheReadmeListsEveryPattern", func(t *testing.T) {
		for _, f := range keysmith.CredentialForms {
			if !strings.Contains(string(readme), "`"+f.Pattern()+"`") {
				t.Errorf("README.md does not list the pattern of %s (legacy %v): `%s`", f.Kind, f.Legacy, f.Pattern())
			}
		}
	})
}

func TestClaimsNamesTheKindAPresentedStringClaimsToBe(t *testing.T) {
	for _, c := range []struct {
		raw  string
		kind keysmith.CredentialKind
		ok   bool
	}{
		{"ks_typo", keysmith.CredentialAPIToken, true},
		{"ksa_typo", keysmith.CredentialAccessToken, true},
		{"ksb_typo", keysmith.CredentialSession, true},
		{"ksc_typo", keysmith.CredentialClientSecret, true},
		{"kss_typo", keysmith.CredentialSession, true},
		{"kss_" + strings.Repeat("x", 43), keysmith.CredentialClientSecret, true},
		{"ks_a.b.c", keysmith.CredentialAPIToken, true},
		{"header.payload.signature", keysmith.CredentialJWT, true},
		{"password", "", false},
	} {
		if kind, ok := keysmith.Claims(c.raw); kind != c.kind || ok != c.ok {
			t.Errorf("Claims(%q) = %q, %v; want %q, %v", c.raw, kind, ok, c.kind, c.ok)
		}
	}
}

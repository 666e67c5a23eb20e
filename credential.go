package keysmith

import (
	"regexp"
	"strconv"
	"strings"
)

// Every kind of secret Keysmith issues, in one place: its prefix, length and
// checksum, and the regular expression a secret scanner can look for. A new
// kind of credential is one more form here (and a line in the README's list).
//
// The prefixes are one family, "ks", a letter naming the kind, "_": "ks_"
// API tokens, "ksa_" access tokens, "ksb_" browser sessions, "ksc_" client
// secrets. None is the start of another, so a leaked secret says what it is
// and a scanner never takes one kind for another. "kss_" named both sessions
// and client secrets before they had a checksum; it is no longer issued, and
// what was issued with it is still accepted (see the legacy forms).
//
// Every issued form ends in a checksum: the CRC-32 of the random part as 6
// base62 characters, as GitHub's tokens have. Anyone can compute it, so it
// proves nothing about a secret; it lets Keysmith turn away typos and
// garbage without a lookup, and scanners recognise a Keysmith secret with
// few false positives.

// CredentialKind names a kind of credential.
type CredentialKind string

// The credential kinds.
const (
	CredentialAPIToken     CredentialKind = "api_token"
	CredentialAccessToken  CredentialKind = "access_token" // opaque OAuth access tokens; JWTs are not prefixed
	CredentialSession      CredentialKind = "session"
	CredentialClientSecret CredentialKind = "client_secret"
)

// CredentialForm is the shape of one kind of credential: Prefix, RandomLen
// base62 characters drawn uniformly with crypto/rand, then, with Checksum,
// 6 base62 characters of the CRC-32 of the random part.
type CredentialForm struct {
	Kind      CredentialKind
	Prefix    string
	RandomLen int
	Checksum  bool
	// Legacy forms are accepted where they were issued before, and never
	// issued again.
	Legacy bool
}

const checksumLen = 6

// The forms. Issued ones first.
var (
	APITokenForm     = CredentialForm{Kind: CredentialAPIToken, Prefix: "ks_", RandomLen: 32, Checksum: true}
	AccessTokenForm  = CredentialForm{Kind: CredentialAccessToken, Prefix: "ksa_", RandomLen: 32, Checksum: true}
	SessionForm      = CredentialForm{Kind: CredentialSession, Prefix: "ksb_", RandomLen: 32, Checksum: true}
	ClientSecretForm = CredentialForm{Kind: CredentialClientSecret, Prefix: "ksc_", RandomLen: 43, Checksum: true}
	// LegacySessionForm was issued before sessions had their own prefix;
	// such sessions last until they expire.
	LegacySessionForm = CredentialForm{Kind: CredentialSession, Prefix: "kss_", RandomLen: 32, Legacy: true}
	// LegacyClientSecretForm was issued before client secrets had their own
	// prefix; such secrets authenticate until they are deleted or reset.
	LegacyClientSecretForm = CredentialForm{Kind: CredentialClientSecret, Prefix: "kss_", RandomLen: 43, Legacy: true}
)

// CredentialForms lists every form Keysmith issues or accepts.
var CredentialForms = []CredentialForm{APITokenForm, AccessTokenForm, SessionForm, ClientSecretForm,
	LegacySessionForm, LegacyClientSecretForm}

// Len is the length of every credential of the form.
func (f CredentialForm) Len() int {
	n := len(f.Prefix) + f.RandomLen
	if f.Checksum {
		n += checksumLen
	}
	return n
}

// Pattern is a regular expression (RE2 and PCRE alike) that matches a
// credential of the form in text, for secret scanners. It does not check
// the checksum; a scanner that wants fewer false positives recomputes it.
func (f CredentialForm) Pattern() string {
	return `\b` + regexp.QuoteMeta(f.Prefix) + `[0-9A-Za-z]{` + strconv.Itoa(f.Len()-len(f.Prefix)) + `}\b`
}

// generate makes a fresh credential of the form and its hash.
func (f CredentialForm) generate() (Secret, Hash) {
	body := randomBase62(f.RandomLen)
	s := f.Prefix + body
	if f.Checksum {
		s += base62Checksum(body)
	}
	return NewSecret(s), HashOf(s)
}

// matches reports whether s has the form: prefix, length, alphabet and
// checksum. No lookup is needed to say so.
func (f CredentialForm) matches(s string) bool {
	if len(s) != f.Len() || !strings.HasPrefix(s, f.Prefix) {
		return false
	}
	body := s[len(f.Prefix) : len(f.Prefix)+f.RandomLen]
	if !isBase62(body) {
		return false
	}
	return !f.Checksum || base62Checksum(body) == s[len(s)-checksumLen:]
}

// Classify says which kind of Keysmith credential raw is, by its form alone
// (prefix, length, alphabet, checksum); ok is false for anything that
// cannot be one.
func Classify(raw string) (kind CredentialKind, ok bool) {
	for _, f := range CredentialForms {
		if f.matches(raw) {
			return f.Kind, true
		}
	}
	return "", false
}

// parseCredential returns the hash of raw when it has one of forms.
func parseCredential(raw string, forms ...CredentialForm) (Hash, bool) {
	for _, f := range forms {
		if f.matches(raw) {
			return HashOf(raw), true
		}
	}
	return Hash{}, false
}

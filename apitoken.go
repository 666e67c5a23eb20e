package keysmith

import "strings"

// API token format: "ks_", 32 random base62 characters (190 bits from
// crypto/rand), then a 6-character base62 CRC-32 of the random part, as GitHub
// does. The checksum lets verify reject typos and garbage without a lookup, and
// lets secret scanners recognise a Keysmith token with few false positives.
const (
	TokenPrefix      = "ks_"
	tokenRandomLen   = 32
	tokenChecksumLen = 6
	// TokenLen is the length of every API token.
	TokenLen = len(TokenPrefix) + tokenRandomLen + tokenChecksumLen
)

// NewAPITokenSecret generates an API token and its hash.
func NewAPITokenSecret() (Secret, Hash) {
	body := randomBase62(tokenRandomLen)
	s := TokenPrefix + body + base62Checksum(body)
	return NewSecret(s), HashOf(s)
}

// ParseAPIToken checks the form of a presented API token (prefix, length,
// alphabet, checksum) and returns its hash. ok is false for anything that
// cannot be a Keysmith token; no lookup is needed to say so.
func ParseAPIToken(s string) (h Hash, ok bool) {
	if len(s) != TokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return h, false
	}
	body := s[len(TokenPrefix) : len(s)-tokenChecksumLen]
	if !isBase62(body) || base62Checksum(body) != s[len(s)-tokenChecksumLen:] {
		return h, false
	}
	return HashOf(s), true
}

package keysmith

// API token format (APITokenForm in credential.go): "ks_", 32 random base62
// characters (190 bits from crypto/rand), then a 6-character base62 CRC-32 of
// the random part, as GitHub does. The checksum lets verify reject typos and
// garbage without a lookup, and lets secret scanners recognise a Keysmith
// token with few false positives.
const (
	// TokenPrefix starts every API token.
	TokenPrefix = "ks_"
	// TokenLen is the length of every API token.
	TokenLen = 3 + 32 + checksumLen
)

// NewAPITokenSecret generates an API token and its hash.
func NewAPITokenSecret() (Secret, Hash) { return APITokenForm.generate() }

// ParseAPIToken checks the form of a presented API token (prefix, length,
// alphabet, checksum) and returns its hash. ok is false for anything that
// cannot be a Keysmith token; no lookup is needed to say so.
func ParseAPIToken(s string) (h Hash, ok bool) { return parseCredential(s, APITokenForm) }

package keysmith

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
)

// Secret holds a credential between its generation and the one response that
// shows it. It never prints itself: fmt (every verb), slog and encoding/json
// all see a placeholder. The plaintext sits behind a pointer because fmt
// prints a struct it cannot call methods on (one held in an unexported field)
// by reflection, and a nested pointer only as its address.
// Call Reveal exactly where the secret is handed to its owner.
type Secret struct{ p *string }

// NewSecret wraps a plaintext credential.
func NewSecret(s string) Secret { return Secret{&s} }

// Reveal returns the plaintext ("" for the zero Secret).
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// Format redacts, whatever the verb: without it, verbs that do not use
// String (%d, %t, %p, …) would print the fields.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, "[REDACTED]") }

// String redacts.
func (Secret) String() string { return "[REDACTED]" }

// GoString redacts.
func (Secret) GoString() string { return "[REDACTED]" }

// LogValue redacts.
func (Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Hash is the SHA-256 digest of a credential: the only form in which Keysmith
// stores one. The inputs are high-entropy machine-generated strings, so a fast
// hash is enough and a slow one would only cost throughput on the hot path.
type Hash [32]byte

// HashOf returns the SHA-256 digest of s.
func HashOf(s string) Hash {
	// Credentials are short: copied to the stack, hashing one allocates
	// nothing (a conversion of more than 32 bytes would), which matters on
	// verify's hot path.
	var buf [128]byte
	if len(s) <= len(buf) {
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}

// String returns the digest in hex, the form the store keeps.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Equal compares two digests in constant time.
func (h Hash) Equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// ParseHash reads a hex digest written by Hash.String.
func ParseHash(s string) (Hash, bool) {
	var h Hash
	if hex.DecodedLen(len(s)) != len(h) {
		return h, false
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err == nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62 with
// crypto/rand, by rejection sampling (bytes ≥ 248 are dropped so that every
// character is equally likely).
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		rand.Read(buf) // never returns an error (Go ≥ 1.24 crashes instead)
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// base62Checksum encodes the CRC-32 of s as 6 base62 characters (62^6 > 2^32).
func base62Checksum(s string) string {
	out := checksumOf(s)
	return string(out[:])
}

// checksumOf is base62Checksum without allocating: the CRC-32 (IEEE) of s,
// computed bytewise from the standard table (credentials are short), as 6
// base62 characters.
func checksumOf(s string) [6]byte {
	c := ^uint32(0)
	for i := 0; i < len(s); i++ {
		c = crc32.IEEETable[byte(c)^s[i]] ^ (c >> 8)
	}
	c = ^c
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = base62[c%62]
		c /= 62
	}
	return out
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// NewID returns a fresh identifier: prefix, "_", 16 base62 characters (95
// bits), so ids are unguessable and say what they name.
func NewID(prefix string) string { return prefix + "_" + randomBase62(16) }

package oauth

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keysmith/keysmith"
)

// MasterKey encrypts the private signing keys at rest (AES-256-GCM). It is
// never stored in the database: it comes from KEYSMITH_MASTER_KEY or a key
// file beside the SQLite database.
type MasterKey struct{ k *[32]byte }

// Format redacts the key under every fmt verb.
func (MasterKey) Format(f fmt.State, _ rune) { f.Write([]byte("[REDACTED]")) }

// Valid reports whether the key is set.
func (m MasterKey) Valid() bool { return m.k != nil }

// NewMasterKey returns a fresh random master key.
func NewMasterKey() MasterKey {
	var k [32]byte
	rand.Read(k[:])
	return MasterKey{&k}
}

// Encode returns the key in the form ParseMasterKey reads (standard base64).
func (m MasterKey) Encode() string { return base64.StdEncoding.EncodeToString(m.k[:]) }

// ParseMasterKey reads a 32-byte key written as base64 (standard or URL
// alphabet, padded or not) or as 64 hex digits.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	var b []byte
	if len(s) == 64 {
		b, _ = hex.DecodeString(s)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b != nil {
			break
		}
		b, _ = enc.DecodeString(s)
	}
	if len(b) != 32 {
		return MasterKey{}, errors.New("the master key must be 32 random bytes in base64 (make one with: openssl rand -base64 32)")
	}
	var k [32]byte
	copy(k[:], b)
	return MasterKey{&k}, nil
}

// LoadOrCreateKeyFile reads the master key from path, creating the file
// (mode 0600, exclusively) with a new key if it does not exist. A file that
// others can read is refused, as ssh refuses a readable private key.
func LoadOrCreateKeyFile(path string) (key MasterKey, created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		key = NewMasterKey()
		_, err = f.WriteString(key.Encode() + "\n")
		if e := f.Sync(); err == nil {
			err = e
		}
		if e := f.Close(); err == nil {
			err = e
		}
		if err != nil {
			os.Remove(path)
			return MasterKey{}, false, fmt.Errorf("write master key file %s: %w", path, err)
		}
		return key, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return MasterKey{}, false, fmt.Errorf("create master key file %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return MasterKey{}, false, fmt.Errorf("master key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return MasterKey{}, false, fmt.Errorf("master key file %s is readable by others (mode %v); run: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return MasterKey{}, false, fmt.Errorf("read master key file: %w", err)
	}
	key, err = ParseMasterKey(string(b))
	if err != nil {
		return MasterKey{}, false, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, false, nil
}

const sealVersion = "v1."

// seal encrypts plaintext under the master key; the key id is bound as
// associated data, so a sealed key cannot be moved to another row.
func (m MasterKey) seal(plaintext []byte, kid string) (string, error) {
	block, err := aes.NewCipher(m.k[:])
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	out := gcm.Seal(nonce, nonce, plaintext, []byte(kid))
	return sealVersion + base64.RawURLEncoding.EncodeToString(out), nil
}

// errWrongMasterKey says that sealed keys do not open with this master key.
var errWrongMasterKey = errors.New("the signing keys in the database cannot be decrypted with this master key; " +
	"start with the master key they were made with (KEYSMITH_MASTER_KEY or the key file beside the SQLite database)")

func (m MasterKey) open(sealed, kid string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, sealVersion))
	if err != nil || !strings.HasPrefix(sealed, sealVersion) {
		return nil, fmt.Errorf("signing key %s: sealed form not recognised", kid)
	}
	block, err := aes.NewCipher(m.k[:])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(b) < gcm.NonceSize() {
		return nil, fmt.Errorf("signing key %s: sealed form too short", kid)
	}
	pt, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], []byte(kid))
	if err != nil {
		return nil, errWrongMasterKey
	}
	return pt, nil
}

// Algorithms that signing keys can have.
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// ParseAlgorithm checks a signing algorithm name.
func ParseAlgorithm(s string) (string, error) {
	switch s {
	case "", ES256:
		return ES256, nil
	case EdDSA, RS256:
		return s, nil
	}
	return "", fmt.Errorf("signing algorithm %q is not supported: use ES256 (default), EdDSA or RS256", s)
}

// generateKey makes a signing key of alg, sealed under m.
func (m MasterKey) generateKey(alg string, now time.Time) (*keysmith.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("signing algorithm %q is not supported", alg)
	}
	if err != nil {
		return nil, err
	}
	kid := keysmith.NewID("key")
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sealed, err := m.seal(der, kid)
	clear(der)
	if err != nil {
		return nil, err
	}
	return &keysmith.SigningKey{ID: kid, Algorithm: alg, PublicJWK: string(pub), PrivateEnc: sealed, CreatedAt: now}, nil
}

// loadedKey is a signing key ready for use.
type loadedKey struct {
	meta   *keysmith.SigningKey
	public jose.JSONWebKey
	signer jose.Signer // nil for keys that no longer sign
	// idSigner signs ID tokens (typ JWT), so that an ID token is never
	// taken for an access token (typ at+jwt) or the other way round.
	idSigner jose.Signer
}

func (m MasterKey) loadKey(k *keysmith.SigningKey) (*loadedKey, error) {
	lk := &loadedKey{meta: k}
	if err := json.Unmarshal([]byte(k.PublicJWK), &lk.public); err != nil {
		return nil, fmt.Errorf("signing key %s: public key: %w", k.ID, err)
	}
	if k.RetiredAt != nil {
		return lk, nil // only verifies; its private key stays sealed
	}
	der, err := m.open(k.PrivateEnc, k.ID)
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: private key: %w", k.ID, err)
	}
	lk.signer, err = jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err == nil {
		lk.idSigner, err = jose.NewSigner(
			jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
			(&jose.SignerOptions{}).WithType("JWT"))
	}
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	return lk, nil
}

// sealerAAD starts the associated data of everything sealed through
// Seal, so that no such value opens as a signing key (whose associated
// data is its kid) nor the other way round.
const sealerAAD = "keysmith.sealer:"

// Seal encrypts a secret that Keysmith must read back (a key manager's
// registration token, a client's registration access token) under the
// master key, bound to aad (its row and purpose): keysmith.Sealer.
func (m MasterKey) Seal(plaintext, aad string) (string, error) {
	if !m.Valid() {
		return "", errors.New("no master key to seal with")
	}
	return m.seal([]byte(plaintext), sealerAAD+aad)
}

// Open decrypts what Seal sealed with the same aad.
func (m MasterKey) Open(sealed, aad string) (string, error) {
	if !m.Valid() {
		return "", errors.New("no master key to open with")
	}
	pt, err := m.open(sealed, sealerAAD+aad)
	if err != nil {
		return "", fmt.Errorf("a sealed secret cannot be opened: %w", err)
	}
	return string(pt), nil
}

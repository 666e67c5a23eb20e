package oauth

import "github.com/keysmith/keysmith"

var _ keysmith.Sealer = MasterKey{}

// Seal encrypts a secret that Keysmith must read back (a key manager's
// tokens and secrets) under the master key, bound to aad (its row, as
// "key_manager:"+id), with AES-256-GCM like the signing keys.
func (m MasterKey) Seal(plaintext, aad string) (string, error) { return m.seal([]byte(plaintext), aad) }

// Open decrypts what Seal sealed with the same aad; an error if the value
// was sealed for another row or under another key.
func (m MasterKey) Open(sealed, aad string) (string, error) {
	b, err := m.open(sealed, aad)
	return string(b), err
}

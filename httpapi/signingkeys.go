package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keysmith/keysmith"
)

// signingKeyJSON is a JWT signing key as the API shows it: its public half
// only. The sealed private half never leaves the database.
type signingKeyJSON struct {
	KID       string          `json:"kid"`
	Algorithm string          `json:"algorithm"`
	Status    string          `json:"status"` // active (signs now) or retired
	CreatedAt time.Time       `json:"created_at"`
	RetiredAt *time.Time      `json:"retired_at"`
	PublicJWK json.RawMessage `json:"public_jwk"`
}

// toSigningKeyJSON shows k. The public JWK is parsed and written again from
// its public key alone, so that nothing private could reach the answer even
// if a stored JWK carried it.
func toSigningKeyJSON(k *keysmith.SigningKey) (signingKeyJSON, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(k.PublicJWK)); err != nil {
		return signingKeyJSON{}, fmt.Errorf("signing key %s: public JWK: %w", k.ID, err)
	}
	pub := jwk.Public()
	if !pub.Valid() {
		return signingKeyJSON{}, fmt.Errorf("signing key %s: public JWK holds no public key", k.ID)
	}
	raw, err := pub.MarshalJSON()
	if err != nil {
		return signingKeyJSON{}, err
	}
	status := "active"
	if k.RetiredAt != nil {
		status = "retired"
	}
	return signingKeyJSON{KID: k.ID, Algorithm: k.Algorithm, Status: status, CreatedAt: k.CreatedAt,
		RetiredAt: k.RetiredAt, PublicJWK: raw}, nil
}

func (s *Server) signingKeyRoutes(mux routes) {
	mux.Handle("GET /v1/signing-keys", s.authed(s.listSigningKeys))
	mux.Handle("POST /v1/signing-keys/rotate", s.authed(s.rotateSigningKey))
}

// listSigningKeys lists the signing keys, newest first: the active one and
// the retired ones still kept.
func (s *Server) listSigningKeys(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	keys, err := s.Service.FindSigningKeys(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]signingKeyJSON, len(keys))
	for i, k := range keys {
		if items[i], err = toSigningKeyJSON(k); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": ""})
	return nil
}

// rotateSigningKey makes a new signing key that signs from now on. The body
// is optional: {"alg": "ES256|EdDSA|RS256"}, by default the algorithm of the
// key signing now.
func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req struct {
		Alg string `json:"alg"`
	}
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	k, err := s.Service.RotateSigningKey(r.Context(), p, req.Alg)
	if err != nil {
		return err
	}
	out, err := toSigningKeyJSON(k)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

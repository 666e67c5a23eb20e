package keymanager_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/keymanager"
	"github.com/keysmith/keysmith/oauth"
	"github.com/keysmith/keysmith/verify"
)

// The external manager in these tests is a real third-party OpenID
// provider, zitadel/oidc's op package over its example storage, serving
// discovery, JWKS, the token endpoint and RFC 7662 introspection on
// 127.0.0.1. providerStorage wraps the example storage only to control the
// signing keys (for rotation) and to issue JWT access tokens to its
// client-credentials client.

// providerKey is one of the provider's RSA signing keys.
type providerKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *providerKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *providerKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k *providerKey) Key() any                                    { return k.key }
func (k *providerKey) ID() string                                  { return k.id }
func (k *providerKey) Use() string                                 { return "sig" }

// publicProviderKey is a providerKey as the key set shows it.
type publicProviderKey struct{ *providerKey }

func (k publicProviderKey) Key() any { return &k.key.PublicKey }

type providerStorage struct {
	*storage.Storage
	jwtTokens bool

	mu        sync.Mutex
	signing   *providerKey
	published []*providerKey
	issued    map[string]issued // access token id → what it was issued for
}

// issued is what the provider issued an opaque access token for. The
// example storage answers introspection only for its users' tokens, so
// providerStorage answers it for the service user's from this record.
type issued struct {
	clientID string
	scopes   []string
	exp      time.Time
}

func (s *providerStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	if err == nil {
		s.mu.Lock()
		if s.issued == nil {
			s.issued = map[string]issued{}
		}
		s.issued[id] = issued{clientID: req.GetSubject(), scopes: req.GetScopes(), exp: exp}
		s.mu.Unlock()
	}
	return id, exp, err
}

func (s *providerStorage) SetIntrospectionFromToken(ctx context.Context, in *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.issued[tokenID]
	s.mu.Unlock()
	if !ok || !time.Now().Before(t.exp) {
		return errors.New("token is not active")
	}
	in.Scope, in.ClientID, in.Subject, in.TokenType = t.scopes, t.clientID, subject, "Bearer"
	in.Expiration, in.Audience, in.JWTID = oidc.FromTime(t.exp), oidc.Audience{"sid1"}, tokenID
	return nil
}

func (s *providerStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing, nil
}

func (s *providerStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *providerStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []op.Key
	for _, k := range s.published {
		out = append(out, publicProviderKey{k})
	}
	return out, nil
}

// jwtClient makes the example's service user get JWT access tokens.
type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func (s *providerStorage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.Storage.ClientCredentials(ctx, id, secret)
	if err == nil && s.jwtTokens {
		c = jwtClient{c}
	}
	return c, err
}

// AuthorizeClientIDSecret lets the service user authenticate at the
// introspection endpoint too (the example admits only its web clients).
func (s *providerStorage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	if id == "sid1" && secret == "verysecret" {
		return nil
	}
	return s.Storage.AuthorizeClientIDSecret(ctx, id, secret)
}

// publish adds k to the key set; sign makes it the signing key too.
func (s *providerStorage) publish(k *providerKey, sign bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = append(s.published, k)
	if sign {
		s.signing = k
	}
}

// retire stops publishing k.
func (s *providerStorage) retire(k *providerKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = slices.DeleteFunc(s.published, func(p *providerKey) bool { return p == k })
}

func newProviderKey(t *testing.T, id string) *providerKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &providerKey{id: id, key: k}
}

// memSource stands in for the store's key managers and clients: the
// store's own implementation is held to the same contract by the storetest
// suite; here only the data matters.
type memSource struct {
	mu       sync.Mutex
	managers []*keysmith.KeyManager
	clients  map[[2]string]*keysmith.Client
	users    map[string]*keysmith.User
	subs     []func(keysmith.Change)
	reads    atomic.Int64
}

func (s *memSource) FindKeyManagers(context.Context) ([]*keysmith.KeyManager, error) {
	s.reads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*keysmith.KeyManager, 0, len(s.managers))
	for _, m := range s.managers {
		c := *m
		out = append(out, &c)
	}
	return out, nil
}

func (s *memSource) FindClientByExternalID(_ context.Context, km, id string) (*keysmith.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[[2]string{km, id}]
	if c == nil {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "no such client")
	}
	cc := *c
	return &cc, nil
}

func (s *memSource) FindUserByID(_ context.Context, id string) (*keysmith.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "no such user")
	}
	uu := *u
	return &uu, nil
}

func (s *memSource) Subscribe(f func(keysmith.Change)) { s.subs = append(s.subs, f) }

// change applies f under the lock, then tells the subscribers, as the
// store does after a commit.
func (s *memSource) change(kind keysmith.ChangeKind, id string, f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
	for _, sub := range s.subs {
		sub(keysmith.Change{Kind: kind, ID: id})
	}
}

// clock is the wall clock moved on by the test: the provider issues its
// tokens at the real time.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())).UTC() }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

type fixture struct {
	t        *testing.T
	issuer   string
	st       *providerStorage
	src      *memSource
	v        *keymanager.Verifier
	clock    *clock
	key1     *providerKey
	jwksGets atomic.Int64
	intros   atomic.Int64
	limit    atomic.Int64
	km       *keysmith.KeyManager
	mk       oauth.MasterKey
	out      *keymanager.HTTP
	// introspected are the tokens the provider was asked about, as sent.
	imu          sync.Mutex
	introspected []string
}

// opaquePrefix is how the provider's opaque tokens begin, as the fixture
// hands them out: zitadel's own have no fixed prefix, so the fixture adds
// one to every opaque token and takes it off at the introspection
// endpoint.
const opaquePrefix = "zit_"

func (f *fixture) verifier(opt keymanager.VerifierOptions) *keymanager.Verifier {
	opt.Now = f.clock.Now
	opt.Limits = func(context.Context) (keysmith.RateLimits, error) {
		return keysmith.RateLimits{keysmith.GroupUnknownTokens: int(f.limit.Load())}, nil
	}
	return keymanager.NewVerifier(f.src, f.mk, f.out, opt)
}

var (
	caller  = netip.MustParseAddr("192.0.2.1")
	caller2 = netip.MustParseAddr("192.0.2.2")
)

func newFixture(t *testing.T, jwtTokens bool) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{}}
	f.limit.Store(600)
	var provider http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/keys":
			f.jwksGets.Add(1)
		case "/oauth/introspect":
			f.intros.Add(1)
			if err := r.ParseForm(); err == nil {
				tok := r.PostForm.Get("token")
				f.imu.Lock()
				f.introspected = append(f.introspected, tok)
				f.imu.Unlock()
				tok = strings.TrimPrefix(tok, opaquePrefix)
				r.PostForm.Set("token", tok)
				r.Form.Set("token", tok)
			}
		}
		provider.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.issuer = srv.URL
	f.st = &providerStorage{Storage: storage.NewStorage(storage.NewUserStore(f.issuer)), jwtTokens: jwtTokens}
	f.key1 = newProviderKey(t, "k1")
	f.st.publish(f.key1, true)
	p, err := op.NewOpenIDProvider(f.issuer, &op.Config{CryptoKey: sha256.Sum256([]byte("test")), CodeMethodS256: true}, f.st,
		op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	provider = p

	mk := oauth.NewMasterKey()
	f.mk = mk
	out := keymanager.NewHTTP(keymanager.Options{AllowInsecure: true, Timeout: 5 * time.Second})
	var disc struct {
		Issuer        string `json:"issuer"`
		JWKSURI       string `json:"jwks_uri"`
		Introspection string `json:"introspection_endpoint"`
	}
	f.out = out
	if err := out.GetJSON(context.Background(), f.issuer+"/.well-known/openid-configuration", &disc); err != nil {
		t.Fatal(err)
	}
	sealed, err := mk.Seal("verysecret", "key_manager:km1:introspection_secret")
	if err != nil {
		t.Fatal(err)
	}
	f.km = &keysmith.KeyManager{ID: "km1", Name: "zitadel", Type: keysmith.KeyManagerOIDC, Issuer: disc.Issuer, Enabled: true,
		Audience: "sid1", JWKSURI: disc.JWKSURI, IntrospectionEndpoint: disc.Introspection,
		IntrospectionClientID: "sid1", IntrospectionSecretSealed: sealed, OpaqueTokenPrefix: opaquePrefix}
	f.src = &memSource{managers: []*keysmith.KeyManager{f.km}, clients: map[[2]string]*keysmith.Client{
		{"km1", "sid1"}: {ID: "cl_1", AppID: "app_1", Environment: keysmith.EnvProduction, Scopes: []string{"read", "openid"},
			KeyManagerID: "km1", ExternalClientID: "sid1", OwnerID: "us_1"},
	}, users: map[string]*keysmith.User{"us_1": {ID: "us_1", Status: keysmith.UserActive}}}
	f.v = f.verifier(keymanager.VerifierOptions{})
	return f
}

// token gets an access token from the provider's token endpoint by the
// client credentials grant.
func (f *fixture) token(scope string) string {
	f.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, _ := http.NewRequest(http.MethodPost, f.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("sid1", "verysecret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		f.t.Fatalf("token endpoint: %d %s", res.StatusCode, b)
	}
	if strings.Count(tr.AccessToken, ".") != 2 {
		return opaquePrefix + tr.AccessToken
	}
	return tr.AccessToken
}

// sign makes a JWT with the provider's key k (or a key of the caller's).
func (f *fixture) sign(k *providerKey, claims map[string]any) string {
	f.t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// claims are good claims for the manager, changed by the overrides.
func (f *fixture) claims(over map[string]any) map[string]any {
	now := f.clock.Now()
	c := map[string]any{"iss": f.issuer, "aud": []string{"sid1"}, "sub": "sid1", "client_id": "sid1",
		"exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix(), "jti": "j1", "scope": "read"}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (f *fixture) verify(raw string, from netip.Addr) keymanager.Result {
	f.t.Helper()
	r, err := f.v.Verify(context.Background(), raw, from)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) want(raw string, code verify.Code) keymanager.Result {
	f.t.Helper()
	r := f.verify(raw, caller)
	if r.Code != code {
		f.t.Fatalf("got %s, want %s (%+v)", r.Code, code, r)
	}
	return r
}

func TestProviderIssuedJWTMapsToKeysmithClient(t *testing.T) {
	f := newFixture(t, true)
	raw := f.token("read openid")
	r := f.want(raw, verify.Valid)
	if r.KeyManagerID != "km1" || r.ClientID != "sid1" || r.KeysmithClientID != "cl_1" || r.AppID != "app_1" ||
		r.Environment != keysmith.EnvProduction || r.ExpiresAt == nil {
		t.Fatalf("result %+v", r)
	}
	if len(r.Scopes) != 0 { // zitadel's JWT access tokens carry no scope claim
		t.Fatalf("scopes %v", r.Scopes)
	}
	f.want(raw, verify.Valid)
	if n := f.jwksGets.Load(); n != 1 {
		t.Fatalf("key set read %d times, want once", n)
	}
}

func TestScopesAreNarrowedToTheKeysmithClient(t *testing.T) {
	f := newFixture(t, true)
	r := f.want(f.sign(f.key1, f.claims(map[string]any{"scope": "read write admin"})), verify.Valid)
	if !slices.Equal(r.Scopes, []string{"read"}) {
		t.Fatalf("scopes %v, want [read]: the manager granted more than Keysmith did", r.Scopes)
	}
	// Okta's shape: cid and scp.
	r = f.want(f.sign(f.key1, f.claims(map[string]any{"client_id": nil, "cid": "sid1", "scope": nil,
		"scp": []string{"openid", "write"}})), verify.Valid)
	if r.AppID != "app_1" || !slices.Equal(r.Scopes, []string{"openid"}) {
		t.Fatalf("okta-shaped token: %+v", r)
	}
	// Keycloak's: azp.
	r = f.want(f.sign(f.key1, f.claims(map[string]any{"client_id": nil, "azp": "sid1", "jti": "j2"})), verify.Valid)
	if r.AppID != "app_1" {
		t.Fatalf("azp token: %+v", r)
	}
	// A client not registered through Keysmith, at a manager that accepts
	// them: valid, unmapped, scopes as issued.
	f.src.change(keysmith.ChangeKeyManager, "km1", func() { f.src.managers[0].AcceptUnregisteredClients = true })
	r = f.want(f.sign(f.key1, f.claims(map[string]any{"client_id": "other", "scope": "a b"})), verify.Valid)
	if r.AppID != "" || r.KeysmithClientID != "" || !slices.Equal(r.Scopes, []string{"a", "b"}) {
		t.Fatalf("unmapped client: %+v", r)
	}
}

func TestRefusedJWTs(t *testing.T) {
	f := newFixture(t, true)
	f.want(f.sign(f.key1, f.claims(nil)), verify.Valid)
	before := f.jwksGets.Load()

	// No manager has this issuer: not found, and nothing is fetched.
	f.want(f.sign(f.key1, f.claims(map[string]any{"iss": f.issuer + "/other"})), verify.NotFound)
	f.want(f.sign(f.key1, f.claims(map[string]any{"aud": "someone-else"})), verify.NotFound)
	f.want(f.sign(f.key1, f.claims(map[string]any{"aud": nil})), verify.NotFound)
	f.want(f.sign(f.key1, f.claims(map[string]any{"exp": nil})), verify.NotFound)
	f.want(f.sign(f.key1, f.claims(map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()})), verify.Expired)
	f.want(f.sign(f.key1, f.claims(map[string]any{"nbf": f.clock.Now().Add(time.Hour).Unix()})), verify.NotFound)
	f.want(f.sign(f.key1, f.claims(map[string]any{"iat": f.clock.Now().Add(time.Hour).Unix()})), verify.NotFound)

	// A key the manager does not publish, under a published kid.
	forged := newProviderKey(t, "k1")
	f.want(f.sign(forged, f.claims(nil)), verify.NotFound)

	// alg none, and HS256 keyed with the public key (the confusion attack).
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(f.claims(nil))
	f.want(enc([]byte(`{"alg":"none","kid":"k1"}`))+"."+enc(payload)+".", verify.Malformed)
	pub, _ := json.Marshal(jose.JSONWebKey{Key: &f.key1.key.PublicKey, KeyID: "k1"})
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: pub, KeyID: "k1"}}, nil)
	hsRaw, _ := jwt.Signed(hs).Claims(f.claims(nil)).Serialize()
	f.want(hsRaw, verify.Malformed)

	// Too long to look at.
	f.want(f.sign(f.key1, f.claims(map[string]any{"pad": strings.Repeat("x", keymanager.MaxTokenLen)})), verify.Malformed)
	if n := f.jwksGets.Load(); n != before {
		t.Fatalf("refused tokens read the key set %d more times (the first unknown kid may; these were known kids)", n-before)
	}
}

func TestKeyRotationAndUnknownKid(t *testing.T) {
	f := newFixture(t, true)
	old := f.sign(f.key1, f.claims(nil))
	f.want(old, verify.Valid)
	if n := f.jwksGets.Load(); n != 1 {
		t.Fatalf("key set read %d times", n)
	}
	f.clock.Advance(2 * time.Minute)

	// The provider publishes k2 and signs with it; k1 stays published.
	k2 := newProviderKey(t, "k2")
	f.st.publish(k2, true)
	fresh := f.token("read")
	var wg sync.WaitGroup
	for range 8 { // concurrent misses share one read
		wg.Go(func() { f.want(fresh, verify.Valid) })
	}
	wg.Wait()
	if n := f.jwksGets.Load(); n != 2 {
		t.Fatalf("key set read %d times, want 2 (one refresh for the new kid)", n)
	}
	f.want(old, verify.Valid) // signed by k1, still published

	// A second unknown kid within the minute: no read.
	k3 := newProviderKey(t, "k3")
	f.want(f.sign(k3, f.claims(map[string]any{"jti": "j3"})), verify.NotFound)
	if n := f.jwksGets.Load(); n != 2 {
		t.Fatalf("key set read %d times, want still 2", n)
	}
	// After the minute the same unknown kid may read again, and finds it.
	f.st.publish(k3, false)
	f.clock.Advance(61 * time.Second)
	f.want(f.sign(k3, f.claims(map[string]any{"jti": "j4"})), verify.Valid)
	if n := f.jwksGets.Load(); n != 3 {
		t.Fatalf("key set read %d times, want 3", n)
	}
	// Past KeysMaxAge the set is read again even for known kids.
	f.clock.Advance(time.Hour)
	f.want(f.sign(f.key1, f.claims(map[string]any{"jti": "j5"})), verify.Valid)
	if n := f.jwksGets.Load(); n != 4 {
		t.Fatalf("key set read %d times, want 4 (hourly refresh)", n)
	}
	// A key the provider no longer publishes stops verifying once the set
	// is read again, even for tokens verified before.
	old = f.sign(f.key1, f.claims(map[string]any{"jti": "j6", "exp": f.clock.Now().Add(3 * time.Hour).Unix()}))
	f.want(old, verify.Valid)
	f.st.retire(f.key1)
	f.clock.Advance(time.Hour + time.Second)
	f.want(f.sign(k2, f.claims(map[string]any{"jti": "j7"})), verify.Valid) // reads the set
	f.want(old, verify.NotFound)
}

func TestDisabledOrDeletedManagerIsRefusedAtOnce(t *testing.T) {
	f := newFixture(t, true)
	raw := f.token("read")
	f.want(raw, verify.Valid)
	f.src.change(keysmith.ChangeKeyManager, "km1", func() { f.src.managers[0].Enabled = false })
	f.want(raw, verify.Disabled)
	f.src.change(keysmith.ChangeKeyManager, "km1", func() { f.src.managers[0].Enabled = true })
	f.want(raw, verify.Valid)
	f.src.change(keysmith.ChangeKeyManager, "km1", func() { f.src.managers = nil })
	f.want(raw, verify.NotFound)
}

func TestRevokedKeysmithClientRefusesItsTokens(t *testing.T) {
	f := newFixture(t, true)
	raw := f.token("read")
	f.want(raw, verify.Valid)
	now := f.clock.Now()
	f.src.change(keysmith.ChangeOAuthClient, "cl_1", func() { f.src.clients[[2]string{"km1", "sid1"}].RevokedAt = &now })
	f.want(raw, verify.Revoked)
}

func TestOpaqueTokensThroughIntrospection(t *testing.T) {
	f := newFixture(t, false)
	raw := f.token("read")
	if strings.Count(raw, ".") == 2 {
		t.Fatalf("expected an opaque token, got a JWT")
	}
	r := f.want(raw, verify.Valid)
	if r.KeyManagerID != "km1" || r.ClientID != "sid1" || r.AppID != "app_1" || !slices.Equal(r.Scopes, []string{"read"}) {
		t.Fatalf("result %+v", r)
	}
	f.want(raw, verify.Valid)
	if n := f.intros.Load(); n != 1 {
		t.Fatalf("introspected %d times, want once (cached)", n)
	}
	f.clock.Advance(31 * time.Second) // an active answer is kept at most 30 s
	f.want(raw, verify.Valid)
	if n := f.intros.Load(); n != 2 {
		t.Fatalf("introspected %d times, want 2", n)
	}

	// Unknown tokens: inactive, remembered 5 s; identical concurrent questions share one call.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { f.want("zit_opaque-unknown-token", verify.NotFound) })
	}
	wg.Wait()
	if n := f.intros.Load(); n != 3 {
		t.Fatalf("introspected %d times, want 3", n)
	}
	f.clock.Advance(6 * time.Second)
	f.want("zit_opaque-unknown-token", verify.NotFound)
	if n := f.intros.Load(); n != 4 {
		t.Fatalf("introspected %d times, want 4", n)
	}

	// Disabling the manager drops its answers at once.
	f.src.change(keysmith.ChangeKeyManager, "km1", func() { f.src.managers[0].Enabled = false })
	f.want(raw, verify.NotFound)
	if n := f.intros.Load(); n != 4 {
		t.Fatalf("a disabled manager was asked")
	}
}

func TestIntrospectionIsBoundedPerAddress(t *testing.T) {
	f := newFixture(t, false)
	f.limit.Store(3)
	good := f.token("read")
	for i := range 3 {
		f.want("zit_unknown-"+string(rune('a'+i)), verify.NotFound)
	}
	r := f.verify("zit_unknown-d", caller)
	if r.Code != verify.RateLimited || r.RateLimit == nil {
		t.Fatalf("past the budget: %+v", r)
	}
	if n := f.intros.Load(); n != 3 {
		t.Fatalf("introspected %d times, want 3", n)
	}
	// Another address has its own budget, and active tokens cost none.
	for range 2 {
		if r := f.verify(good, caller2); r.Code != verify.Valid {
			t.Fatalf("good token from another address: %+v", r)
		}
		f.clock.Advance(31 * time.Second)
	}
	if r := f.verify("zit_unknown-e", caller2); r.Code != verify.NotFound {
		t.Fatalf("other address: %+v", r)
	}
}

func TestUnknownTokensCostNothingWithoutAnAnsweringManager(t *testing.T) {
	f := newFixture(t, false)
	f.src.change(keysmith.ChangeKeyManager, "km1", func() { f.src.managers[0].IntrospectionEndpoint = "" })
	f.want("zit_some-opaque-token", verify.NotFound)
	f.want("a.b.c", verify.NotFound)
	if f.intros.Load()+f.jwksGets.Load() != 0 {
		t.Fatalf("outbound calls for tokens no manager could answer")
	}
}

// otherManager is a second manager with introspection, answering every
// token inactive and recording what it was sent.
func (f *fixture) otherManager(id, prefix string) *[]string {
	f.t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		got = append(got, r.PostForm.Get("token"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"active":false}`)
	}))
	f.t.Cleanup(srv.Close)
	sealed, err := f.mk.Seal("other-secret", "key_manager:"+id+":introspection_secret")
	if err != nil {
		f.t.Fatal(err)
	}
	m := &keysmith.KeyManager{ID: id, Name: id, Type: keysmith.KeyManagerOIDC, Issuer: srv.URL, Enabled: true,
		JWKSURI: srv.URL + "/keys", IntrospectionEndpoint: srv.URL + "/introspect", IntrospectionClientID: "ks",
		IntrospectionSecretSealed: sealed, OpaqueTokenPrefix: prefix}
	f.src.change(keysmith.ChangeKeyManager, id, func() { f.src.managers = append(f.src.managers, m) })
	return &got
}

func TestOpaqueTokensGoOnlyToTheManagerOfTheirPrefix(t *testing.T) {
	f := newFixture(t, false)
	other := f.otherManager("km2", "oth_")
	longer := f.otherManager("km3", "zit_long_")
	// Credentials but no prefix (a row from before prefixes were required):
	// never asked.
	noPrefix := f.otherManager("km4", "")

	good := f.token("read")
	f.want(good, verify.Valid)
	f.want("zit_unknown", verify.NotFound)
	if len(*other)+len(*longer)+len(*noPrefix) != 0 {
		t.Fatalf("the provider's tokens were sent to other managers: %v %v %v", *other, *longer, *noPrefix)
	}
	if n := f.intros.Load(); n != 2 {
		t.Fatalf("provider asked %d times, want 2", n)
	}
	// Another manager's token goes to it alone, once.
	f.want("oth_abc", verify.NotFound)
	if !slices.Equal(*other, []string{"oth_abc"}) || f.intros.Load() != 2 {
		t.Fatalf("oth_ token: other got %v, provider asked %d times", *other, f.intros.Load())
	}
	// The longest prefix wins.
	f.want("zit_long_abc", verify.NotFound)
	if !slices.Equal(*longer, []string{"zit_long_abc"}) || f.intros.Load() != 2 {
		t.Fatalf("zit_long_ token: longer got %v, provider asked %d times", *longer, f.intros.Load())
	}
	// No prefix matches (Keysmith's own forms included): no call at all.
	for _, raw := range []string{"ksa_0123456789abcdef", "opaque", "zit"} {
		f.want(raw, verify.NotFound)
	}
	if len(*other)+len(*longer)+len(*noPrefix) != 2 || f.intros.Load() != 2 {
		t.Fatalf("tokens without a known prefix were sent out")
	}
	f.imu.Lock()
	defer f.imu.Unlock()
	for _, tok := range f.introspected {
		if !strings.HasPrefix(tok, opaquePrefix) || strings.HasPrefix(tok, "zit_long_") {
			t.Fatalf("provider was sent %q", tok)
		}
	}
}

func TestDeactivatedOwnerRefusesItsExternalClientsTokens(t *testing.T) {
	for _, jwtTokens := range []bool{true, false} {
		f := newFixture(t, jwtTokens)
		raw := f.token("read")
		f.want(raw, verify.Valid)
		f.src.change(keysmith.ChangeUser, "us_1", func() { f.src.users["us_1"].Status = keysmith.UserInactive })
		r := f.want(raw, verify.OwnerInactive)
		if r.AppID != "app_1" {
			t.Fatalf("owner inactive: %+v", r)
		}
		f.src.change(keysmith.ChangeUser, "us_1", func() { f.src.users["us_1"].Status = keysmith.UserActive })
		f.want(raw, verify.Valid)
		// A lost change feed drops the cached status too.
		f.src.mu.Lock()
		delete(f.src.users, "us_1") // an owner that no longer exists
		f.src.mu.Unlock()
		f.want(raw, verify.Valid) // cached, no change told
		f.src.change(keysmith.ChangeFeedLost, "", func() {})
		f.want(raw, verify.OwnerInactive)
	}
}

func TestUnregisteredClientsAreRefusedByDefault(t *testing.T) {
	f := newFixture(t, true)
	before := f.jwksGets.Load()
	f.want(f.sign(f.key1, f.claims(nil)), verify.Valid)
	unregistered := f.sign(f.key1, f.claims(map[string]any{"client_id": "other", "scope": "a b", "jti": "j2"}))
	noClient := f.sign(f.key1, f.claims(map[string]any{"client_id": nil, "jti": "j3"}))
	for _, raw := range []string{unregistered, noClient} {
		if r := f.want(raw, verify.NotFound); r.Scopes != nil || r.AppID != "" {
			t.Fatalf("unregistered client: %+v", r)
		}
	}
	if n := f.jwksGets.Load() - before; n != 1 {
		t.Fatalf("key set read %d times, want once", n)
	}
	f.src.change(keysmith.ChangeKeyManager, "km1", func() { f.src.managers[0].AcceptUnregisteredClients = true })
	r := f.want(unregistered, verify.Valid)
	if r.AppID != "" || r.Environment != "" || !slices.Equal(r.Scopes, []string{"a", "b"}) {
		t.Fatalf("accepted unregistered client: %+v", r)
	}
	f.want(noClient, verify.Valid)

	// Opaque: the same.
	o := newFixture(t, false)
	o.src.change(keysmith.ChangeOAuthClient, "cl_1", func() { o.src.clients = map[[2]string]*keysmith.Client{} })
	raw := o.token("read")
	o.want(raw, verify.NotFound)
	o.src.change(keysmith.ChangeKeyManager, "km1", func() { o.src.managers[0].AcceptUnregisteredClients = true })
	if r := o.want(raw, verify.Valid); !slices.Equal(r.Scopes, []string{"read"}) || r.AppID != "" {
		t.Fatalf("accepted unregistered opaque: %+v", r)
	}
}

func TestTokensOfKeysmithsOwnIssuerAreNeverChecked(t *testing.T) {
	f := newFixture(t, true)
	// A manager configured with Keysmith's own issuer (here the provider's
	// plays Keysmith's): its tokens are Keysmith's, never looked at here.
	v := f.verifier(keymanager.VerifierOptions{Issuer: f.issuer + "/"})
	r, err := v.Verify(context.Background(), f.token("read"), caller)
	if err != nil || r.Code != verify.NotFound || r.KeyManagerID != "" {
		t.Fatalf("own issuer: %+v %v", r, err)
	}
	if n := f.jwksGets.Load(); n != 0 {
		t.Fatalf("key set read %d times for a token of the own issuer", n)
	}
}

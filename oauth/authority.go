// Package oauth is Keysmith's OAuth 2.0 authorization server: the
// client_credentials grant, JWT (RFC 9068) and opaque access tokens, the JWKS
// and signing-key rotation, introspection (RFC 7662) and revocation (RFC
// 7009). Everything on the hot path (client authentication, issuing,
// introspecting) is answered from memory: clients are cached by id and
// dropped when the store says they changed, JWTs are checked by signature and
// an in-memory revocation set, opaque tokens are cached by hash.
package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keysmith/keysmith"
)

// Store is what the authority reads and writes.
type Store interface {
	FindClientByID(ctx context.Context, id string) (*keysmith.Client, error)
	FindClientSecretChecks(ctx context.Context, clientID string) ([]keysmith.SecretCheck, error)
	// FindUserByID reads a client's owner: a deactivated owner's clients
	// issue nothing and their tokens are inactive.
	FindUserByID(ctx context.Context, id string) (*keysmith.User, error)
	// FindScopeGrants reads which registered scopes a client was granted:
	// only those (and the built-in ones) are issued, so a change applies
	// from the next token.
	FindScopeGrants(ctx context.Context, holderIDs []string) (map[string][]string, error)
	// FindScopes and FindAppByID describe a request on the consent page.
	FindScopes(ctx context.Context, names []string) (map[string]keysmith.Scope, error)
	FindAppByID(ctx context.Context, id string) (*keysmith.App, error)
	keysmith.AccessTokenStore
	keysmith.AuthorizationStore
	keysmith.SigningKeyStore
	Subscribe(f func(keysmith.Change))
}

// Options configure an Authority.
type Options struct {
	// Issuer is the server's public URL, the iss of every token.
	Issuer    string
	MasterKey MasterKey
	// Algorithm of new signing keys: ES256 (default), EdDSA or RS256.
	Algorithm string
	// RotationInterval is how old the signing key may get before a new one
	// replaces it; 0 turns scheduled rotation off.
	RotationInterval time.Duration
	Now              keysmith.Clock
	Log              *slog.Logger
	// MaxAge bounds how long a cached client is trusted without reading it
	// again, a safety net for lost notifications. Default 1 minute.
	MaxAge time.Duration
}

// keyRetention is how long a retired signing key stays published: the
// longest JWT lifetime plus a margin for replicas that learn of a rotation
// late (they reload keys at least once a minute).
const keyRetention = keysmith.MaxJWTTTL + 5*time.Minute

// Authority issues and checks access tokens. It is safe for concurrent use.
type Authority struct {
	store  Store
	opt    Options
	now    keysmith.Clock
	log    *slog.Logger
	issuer string

	keys      atomic.Pointer[keySet]
	keysStale atomic.Bool // a change to the keys was announced; read them again before use
	reloadMu  sync.Mutex
	// lastKIDReload is when (unix µs) a JWT with an unknown kid last made
	// the keys be read again; kidReloads counts such reads.
	lastKIDReload atomic.Int64
	kidReloads    atomic.Uint64
	// issued counts access tokens issued per grant (Issued).
	issued [len(IssuedGrants)]atomic.Uint64

	mu      sync.RWMutex
	gen     uint64
	clients map[string]*clientEntry
	negCli  map[string]time.Time
	opaque  map[keysmith.Hash]*keysmith.AccessToken
	opIDs   map[string]keysmith.Hash
	negTok  map[keysmith.Hash]time.Time
	revoked map[string]struct{} // jti of revoked tokens
	jwts    map[keysmith.Hash]*keysmith.AccessToken
	// people caches whether the person a token acts for is active.
	people map[string]personEntry
}

type personEntry struct {
	user     *keysmith.User // nil: no such user
	loadedAt time.Time
}

type clientEntry struct {
	client   *keysmith.Client
	secrets  []keysmith.SecretCheck
	loadedAt time.Time
	// ownerActive says whether the client's owner was active when the
	// entry was loaded; a change to the owner drops the entry.
	ownerActive bool
}

// keySet is the signing keys as loaded: the one that signs, and all that
// verify, by kid.
type keySet struct {
	current *loadedKey
	byKID   map[string]*loadedKey
	all     []*loadedKey // newest first
}

// New loads the signing keys (creating the first one on an empty database),
// the revocation set, and subscribes to the store's changes. It fails when
// the keys do not open with the master key.
func New(ctx context.Context, store Store, opt Options) (*Authority, error) {
	if opt.Now == nil {
		opt.Now = keysmith.SystemClock
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.MaxAge == 0 {
		opt.MaxAge = time.Minute
	}
	alg, err := ParseAlgorithm(opt.Algorithm)
	if err != nil {
		return nil, err
	}
	opt.Algorithm = alg
	if !opt.MasterKey.Valid() {
		return nil, fmt.Errorf("oauth: no master key")
	}
	a := &Authority{store: store, opt: opt, now: opt.Now, log: opt.Log, issuer: strings.TrimRight(opt.Issuer, "/"),
		clients: map[string]*clientEntry{}, negCli: map[string]time.Time{},
		opaque: map[keysmith.Hash]*keysmith.AccessToken{}, opIDs: map[string]keysmith.Hash{},
		negTok: map[keysmith.Hash]time.Time{}, revoked: map[string]struct{}{}, jwts: map[keysmith.Hash]*keysmith.AccessToken{},
		people: map[string]personEntry{}}
	store.Subscribe(a.invalidate)
	if err := a.reloadKeys(ctx); err != nil {
		return nil, err
	}
	if a.keys.Load().current == nil {
		if err := a.addKey(ctx, opt.Algorithm, false); err != nil {
			return nil, fmt.Errorf("create the first signing key: %w", err)
		}
	}
	if err := a.reloadRevoked(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// Issuer is the iss of the tokens.
func (a *Authority) Issuer() string { return a.issuer }

// reloadKeys reads the signing keys again.
func (a *Authority) reloadKeys(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	ks, err := a.store.FindSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("read signing keys: %w", err)
	}
	set := &keySet{byKID: map[string]*loadedKey{}}
	old := a.keys.Load()
	for _, k := range ks {
		var lk *loadedKey
		if old != nil && old.byKID[k.ID] != nil && (k.RetiredAt == nil) == (old.byKID[k.ID].signer != nil) {
			lk = old.byKID[k.ID] // unchanged: keep it without opening it again
		} else if lk, err = a.opt.MasterKey.loadKey(k); err != nil {
			return err
		}
		set.byKID[k.ID] = lk
		set.all = append(set.all, lk)
		if k.RetiredAt == nil && set.current == nil {
			set.current = lk
		}
	}
	a.keys.Store(set)
	return nil
}

// addKey makes a new signing key that takes over signing at once.
func (a *Authority) addKey(ctx context.Context, alg string, rotation bool) error {
	now := a.now()
	k, err := a.opt.MasterKey.generateKey(alg, now)
	if err != nil {
		return err
	}
	if err := a.store.AddSigningKey(ctx, k, now.Add(-keyRetention), rotation); err != nil {
		return err
	}
	a.keysStale.Store(false)
	return a.reloadKeys(ctx)
}

// Rotate introduces a new signing key of alg ("" for the configured one).
// The retired key's public half stays in the JWKS until every token it
// signed has expired.
func (a *Authority) Rotate(ctx context.Context, alg string) (*keysmith.SigningKey, error) {
	if alg == "" {
		alg = a.opt.Algorithm
	}
	alg, err := ParseAlgorithm(alg)
	if err != nil {
		return nil, keysmith.Errorf(keysmith.CodeInvalid, "%v", err)
	}
	if err := a.addKey(ctx, alg, true); err != nil {
		return nil, err
	}
	return a.keys.Load().current.meta, nil
}

// RotateIfDue rotates when the signing key is older than the configured
// interval. It reports whether it rotated.
func (a *Authority) RotateIfDue(ctx context.Context) (bool, error) {
	if a.opt.RotationInterval <= 0 {
		return false, nil
	}
	if err := a.reloadKeys(ctx); err != nil { // another replica may have rotated
		return false, err
	}
	cur := a.keys.Load().current
	if cur != nil && a.now().Sub(cur.meta.CreatedAt) < a.opt.RotationInterval {
		return false, nil
	}
	if _, err := a.Rotate(ctx, ""); err != nil {
		return false, err
	}
	a.log.Info("rotated the signing key on schedule", "kid", a.keys.Load().current.meta.ID)
	return true, nil
}

// Run does the periodic work until ctx ends: scheduled rotation, and
// reading keys and the revocation set again (which picks up a rotation made
// by the CLI on an SQLite database, and forgets expired revocations).
func (a *Authority) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := a.RotateIfDue(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("scheduled signing key rotation failed", "err", err)
		}
		if err := a.reloadKeys(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("reading signing keys failed", "err", err)
		}
		if err := a.reloadRevoked(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("reading revoked access tokens failed", "err", err)
		}
	}
}

// reloadRevoked reads the set of revoked, unexpired tokens.
func (a *Authority) reloadRevoked(ctx context.Context) error {
	a.mu.RLock()
	gen := a.gen
	a.mu.RUnlock()
	ids, err := a.store.FindRevokedAccessTokens(ctx, a.now())
	if err != nil {
		return fmt.Errorf("read revoked access tokens: %w", err)
	}
	set := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen != gen { // a revocation raced with the read: keep what it added
		for id := range a.revoked {
			set[id] = struct{}{}
		}
	}
	a.revoked = set
	return nil
}

// invalidate drops what a committed change made stale. A kind it does not
// know (see keysmith.ChangeKind.Known) counts as ChangeAll.
func (a *Authority) invalidate(c keysmith.Change) {
	if !c.Kind.Known() {
		c.Kind = keysmith.ChangeAll
	}
	a.mu.Lock()
	a.gen++
	switch c.Kind {
	case keysmith.ChangeOAuthClient:
		delete(a.clients, c.ID)
		delete(a.negCli, c.ID)
	case keysmith.ChangeUser:
		// A deactivation or activation of an owner changes what their
		// clients may do. Users change rarely, so a scan is fine.
		for id, e := range a.clients {
			if e.client.OwnerID == c.ID {
				delete(a.clients, id)
			}
		}
		delete(a.people, c.ID)
	case keysmith.ChangeAccessToken:
		// The one change to an issued token is its revocation.
		a.revoked[c.ID] = struct{}{}
		if h, ok := a.opIDs[c.ID]; ok {
			delete(a.opaque, h)
			delete(a.opIDs, c.ID)
		}
	case keysmith.ChangeAll, keysmith.ChangeFeedLost:
		// Lost: what is cached may go stale unheard; the ChangeAll of the
		// reconnection drops it again and reads what was missed.
		clear(a.clients)
		clear(a.negCli)
		clear(a.opaque)
		clear(a.opIDs)
		clear(a.negTok)
		clear(a.people)
	}
	a.mu.Unlock()
	if c.Kind == keysmith.ChangeSigningKey || c.Kind == keysmith.ChangeAll {
		a.keysStale.Store(true) // read again at the next use, not here: f must not block
	}
	if c.Kind == keysmith.ChangeAll {
		go func() {
			if err := a.reloadRevoked(context.Background()); err != nil {
				a.log.Warn("reading revoked access tokens after reconnecting failed; retrying within a minute", "err", err)
			}
		}()
	}
}

// keySet returns the signing keys, reading them again first if a change
// was announced since they were read.
func (a *Authority) keySet(ctx context.Context) *keySet {
	if a.keysStale.CompareAndSwap(true, false) {
		if err := a.reloadKeys(ctx); err != nil {
			a.keysStale.Store(true)
			a.log.Error("reading signing keys after a change failed; using the ones loaded before", "err", err)
		}
	}
	return a.keys.Load()
}

// unknownKIDReload is how often a JWT whose kid is not among the loaded
// keys may make the authority read its keys again: a key rotated on another
// replica then verifies from its first token, even when the change
// notification was lost, and a flood of made-up kids costs one read a
// second.
const unknownKIDReload = time.Second

// keySetWithKID returns the signing keys once they have been read again
// because a JWT named a kid missing from keys, or nil if that was done less
// than unknownKIDReload ago (or failed).
func (a *Authority) keySetWithKID(ctx context.Context, kid string) *keySet {
	now := a.now().UnixMicro()
	for {
		last := a.lastKIDReload.Load()
		if last != 0 && now-last < unknownKIDReload.Microseconds() {
			return nil
		}
		if a.lastKIDReload.CompareAndSwap(last, now) {
			break
		}
	}
	a.kidReloads.Add(1)
	if err := a.reloadKeys(ctx); err != nil {
		a.log.Error("reading signing keys for an unknown kid failed", "kid", kid, "err", err)
		return nil
	}
	return a.keys.Load()
}

// UnknownKIDReloads counts the times a JWT with an unknown kid made the
// signing keys be read again: for a metric.
func (a *Authority) UnknownKIDReloads() uint64 { return a.kidReloads.Load() }

const negativeTTL = 5 * time.Second

// client returns the cached client, loading it on a miss; nil if unknown.
func (a *Authority) client(ctx context.Context, id string) (*clientEntry, error) {
	now := a.now()
	a.mu.RLock()
	e := a.clients[id]
	negUntil, isNeg := a.negCli[id]
	gen := a.gen
	a.mu.RUnlock()
	if e != nil && now.Sub(e.loadedAt) < a.opt.MaxAge {
		return e, nil
	}
	if e == nil && isNeg && now.Before(negUntil) {
		return nil, nil
	}
	c, err := a.store.FindClientByID(ctx, id)
	if err == nil && c.External() {
		// Registered at an external key manager: its manager issues its
		// tokens, never Keysmith. Unknown here.
		err = keysmith.Errorf(keysmith.CodeNotFound, "OAuth client %q not found", id)
	}
	var secrets []keysmith.SecretCheck
	if err == nil {
		secrets, err = a.store.FindClientSecretChecks(ctx, id)
	}
	ownerActive := false
	if err == nil {
		ownerActive, err = a.ownerActive(ctx, c.OwnerID)
	}
	switch keysmith.ErrorCode(err) {
	case "":
	case keysmith.CodeNotFound:
		a.mu.Lock()
		if a.gen == gen {
			delete(a.clients, id)
			if len(a.negCli) >= 100_000 {
				clear(a.negCli)
			}
			a.negCli[id] = now.Add(negativeTTL)
		}
		a.mu.Unlock()
		return nil, nil
	default:
		return nil, err
	}
	fresh := &clientEntry{client: c, secrets: secrets, loadedAt: now, ownerActive: ownerActive}
	a.mu.Lock()
	if a.gen == gen {
		a.clients[id] = fresh
		delete(a.negCli, id)
	}
	a.mu.Unlock()
	return fresh, nil
}

// ownerActive reads whether a client's owner is active; an owner that no
// longer exists is not.
func (a *Authority) ownerActive(ctx context.Context, id string) (bool, error) {
	u, err := a.store.FindUserByID(ctx, id)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return u.Status == keysmith.UserActive, nil
}

// person returns the user a token acts for, cached like clients; nil if
// there is none.
func (a *Authority) person(ctx context.Context, id string) (*keysmith.User, error) {
	now := a.now()
	a.mu.RLock()
	e, ok := a.people[id]
	gen := a.gen
	a.mu.RUnlock()
	if ok && now.Sub(e.loadedAt) < a.opt.MaxAge {
		return e.user, nil
	}
	u, err := a.store.FindUserByID(ctx, id)
	if keysmith.ErrorCode(err) == keysmith.CodeNotFound {
		u, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.gen == gen {
		if len(a.people) >= 100_000 {
			clear(a.people)
		}
		a.people[id] = personEntry{user: u, loadedAt: now}
	}
	a.mu.Unlock()
	return u, nil
}

// personActive reports whether a token for the person id may act: the
// person exists, is a person and is active.
func (a *Authority) personActive(ctx context.Context, id string) (bool, error) {
	u, err := a.person(ctx, id)
	return err == nil && u != nil && u.Status == keysmith.UserActive && u.Type == keysmith.UserPerson, err
}

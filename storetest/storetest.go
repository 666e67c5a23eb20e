// Coverage: every method of keysmith.Store, and the contract case (file)
// that calls it and checks the error codes its doc comment names. Add a
// method here with its case.
//
//	Store            Ping: OpenMigratesAnEmptyDatabase (open); Subscribe: every
//	                 case's watcher (changes); Bootstrap: Bootstrap* (bootstrap)
//	UserStore        FindUserByID, FindUserByEmail, CreateUser, FindUsers,
//	                 UpdateUser: Users, LastActiveSuperAdminIsKept (users)
//	GroupStore       CreateGroup, FindGroupByID, FindGroups, UpdateGroup,
//	                 DeleteGroup, AddGroupMember, RemoveGroupMember,
//	                 FindGroupIDsOfUser: Groups (groups)
//	SessionStore     CreateSession, FindSessionByHash, DeleteSession,
//	                 FindSessionsOfUser, DeleteSessionsOfUser: Sessions;
//	                 CreateSetupCode, RedeemSetupCode: SetupCodes (setupcodes)
//	TokenStore       CreateToken, FindTokenByID, FindTokenByHash: CreateToken*,
//	                 FindUnknownTokenIsNotFound (tokens); FindTokens: FindTokens*
//	                 (list); RevokeToken: RevokeToken* (revoke); RecordTokenUses,
//	                 RecordTokenExpiry: RecordToken* (expiry); UpdateToken,
//	                 RotateToken, SummarizeTokens: TokenLifecycle (token_lifecycle);
//	                 SummarizeTokens and FoldTokenCounts: TokenSummary (token_summary)
//	AgentStore       CreateAgent, FindAgentByID, FindAgents, ActivateAgent,
//	                 DeactivateAgent, DeleteAgent: Agents (agents), with
//	                 concurrent re-activations leaving one live token
//	ZoneStore        CreateZone, FindZoneByID, FindZones, UpdateZone,
//	                 DeleteZone: Zones (zones), with DeleteZone racing UpdateToken
//	TrustedOriginStore CreateTrustedOrigin, FindTrustedOrigins,
//	                 DeleteTrustedOrigin: TrustedOrigins (trustedorigins), with
//	                 the bound under concurrent additions
//	RegistrationStore CreateRegistrationToken, FindRegistrationTokens,
//	                 FindRegistrationTokenByHash, RevokeRegistrationToken,
//	                 RegisterClient, FindClientRegistrationByHash:
//	                 Registrations (registrations), with max_uses under
//	                 concurrent registrations
//	APIStore         CreateAPI, FindScopes, FindAPIs, FindAPIByID, UpdateAPI,
//	                 DeleteAPI, RecordUnregisteredScopes: APIs (apis), with
//	                 DeleteAPI racing CreateClient; UpdateClient there too
//	SettingsStore    RateLimits, SetRateLimits: Settings (settings)
//	EventStore       RecordEvent, FindEvents, ExportEvents, VerifyEvents,
//	                 PruneEvents, RecordTokenExpiries: EventLog (eventlog); the
//	                 events of changes: *AppendsOneEvent… (events)
//	AppStore         CreateApp, FindAppByID, FindApps, UpdateApp, DeleteApp,
//	                 TransferApp (racing the old owner's new credentials): Apps;
//	                 app keys through the token methods and DeleteApp: AppKeys
//	ClientStore      CreateClient, FindClientByID, FindClients, RevokeClient,
//	                 CreateClientSecret, FindClientSecrets, DeleteClientSecret,
//	                 ResetClientSecrets, FindClientSecretChecks: Clients
//	                 (clients), with the secret cap under concurrent additions
//	AccessTokenStore CreateAccessToken, FindAccessTokenByHash, RevokeAccessToken,
//	                 FindRevokedAccessTokens: AccessTokens (accesstokens);
//	                 PruneAccessTokens: PruneAccessTokensDeletesOnlyExpiredRecords
//	SigningKeyStore  FindSigningKeys, AddSigningKey: SigningKeys (signingkeys)
//	AuthorizationStore CreateAuthorizationCode, RedeemAuthorizationCode,
//	                 FindConsent, FindConsents, SaveConsent, RevokeConsent,
//	                 CreateRefreshToken, FindRefreshTokenByHash,
//	                 RotateRefreshToken, RevokeGrant, RevokeUserGrants:
//	                 Authorizations (authorizations), with concurrent
//	                 redemptions and rotations, and deactivation revoking
//	                 grants; PruneAuthorizations:
//	                 PruneAuthorizationsDeletesOnlyExpiredCodesAndRefreshTokens

package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/internal/testclock"
	"github.com/keysmith/keysmith/store"
)

// Run runs the store contract. Every case gets its own fresh, empty database
// from newDSN (storetest.DSN for an engine), so cases cannot leak into each
// other, run in parallel, and any one can be run alone with -run.
//
// The case names are the specification: they say what every engine must do.
func Run(t *testing.T, newDSN func(t testing.TB) string) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newDSN)
		})
	}
}

// cases is the contract, grouped as the Store interface is.
var cases = []struct {
	name string
	run  func(t *testing.T, newDSN func(t testing.TB) string)
}{
	// Opening and migrating.
	{"OpenMigratesAnEmptyDatabase", testOpenMigratesAnEmptyDatabase},
	{"OpenAgainIsIdempotent", testOpenAgainIsIdempotent},
	{"ConcurrentOpensOfAFreshDatabaseAllSucceed", testConcurrentOpensOfAFreshDatabaseAllSucceed},
	{"ConcurrentFirstStartsAgreeOnOneIssuer", withStore(testConcurrentFirstStartsAgreeOnOneIssuer)},

	// Bootstrap and users.
	{"BootstrapCreatesUserAndToken", withStore(testBootstrapCreatesUserAndToken)},
	{"SecondBootstrapIsConflictAndChangesNothing", withStore(testSecondBootstrapIsConflictAndChangesNothing)},
	{"ConcurrentBootstrapsCreateExactlyOneUser", withStore(testConcurrentBootstrapsCreateExactlyOneUser)},
	{"BootstrapFailingHalfwayLeavesNoTrace", withStore(testBootstrapFailingHalfwayLeavesNoTrace)},
	{"FindUnknownUserIsNotFound", withStore(testFindUnknownUserIsNotFound)},
	{"LastActiveSuperAdminIsKept", withStore(testLastActiveSuperAdminIsKept)},
	{"NoPlaintextPasswordOrSessionSecretIsStored", withStore(testNoPlaintextPasswordOrSessionSecretIsStored)},

	// Creating and finding tokens.
	{"CreateTokenRoundTripsEveryField", withStore(testCreateTokenRoundTripsEveryField)},
	{"FindUnknownTokenIsNotFound", withStore(testFindUnknownTokenIsNotFound)},
	{"CreateDuplicateTokenIsConflictAndChangesNothing", withStore(testCreateDuplicateTokenIsConflict)},
	{"ConcurrentCreatorsAreAllKeptAfterReopening", withStore(testConcurrentCreatorsAreAllKeptAfterReopening)},

	// Listing tokens.
	{"FindTokensListsNewestFirst", withStore(testFindTokensListsNewestFirst)},
	{"FindTokensFiltersByOwner", withStore(testFindTokensFiltersByOwner)},
	{"FindTokensWithoutLimitReturnsDefaultPageSize", withStore(testFindTokensWithoutLimitReturnsDefaultPageSize)},
	{"FindTokensOnEmptyStoreIsEmpty", withStore(testFindTokensOnEmptyStoreIsEmpty)},
	{"FindTokensLastPageHasNoCursor", withStore(testFindTokensLastPageHasNoCursor)},
	{"FindTokensPagesVisitEveryTokenOnce", withStore(testFindTokensPagesVisitEveryTokenOnce)},
	{"FindTokensPagesVisitEveryTokenOnceDespiteNewerInserts", withStore(testFindTokensPagesWithNewerInserts)},
	{"FindTokensPagesVisitEveryTokenOnceDespiteInsertsAtTheCursorTime", withStore(testFindTokensPagesWithInsertsAtCursorTime)},
	{"FindTokensWithGarbageCursorIsInvalid", withStore(testFindTokensWithGarbageCursorIsInvalid)},
	{"FindTokensPagesEverySortAndStatusToTheEnd", withStore(testFindTokensPagesEverySortAndStatusToTheEnd)},
	{"FindTokensSearchesNames", withStore(testFindTokensSearchesNames)},
	{"FindTokensSearchFollowsRenames", withStore(testFindTokensSearchFollowsRenames)},
	{"FindTokensCommonSearchPagesToTheEnd", withStore(testFindTokensCommonSearchPagesToTheEnd)},

	// Revoking tokens.
	{"RevokeTokenSetsRevokedAtAndBy", withStore(testRevokeTokenSetsRevokedAtAndBy)},
	{"RevokeTokenIsIdempotent", withStore(testRevokeTokenIsIdempotent)},
	{"RevokeUnknownTokenIsNotFound", withStore(testRevokeUnknownTokenIsNotFound)},
	{"ConcurrentRevokesAllReturnTheRevokedToken", withStore(testConcurrentRevokesAllReturnTheRevokedToken)},

	// Recording uses.
	{"RecordTokenUsesStoresLastUse", withStore(testRecordTokenUsesStoresLastUse)},
	{"RecordTokenUsesKeepsTheNewestUse", withStore(testRecordTokenUsesKeepsTheNewestUse)},
	{"RecordTokenUsesIgnoresUnknownTokens", withStore(testRecordTokenUsesIgnoresUnknownTokens)},
	{"RecordTokenUsesIsNotAChange", withStore(testRecordTokenUsesIsNotAChange)},
	{"RecordTokenUsesRefusesAUseArrivingAfterTheDeadlinePlusSettle", withStore(testRecordTokenUsesRefusesAUseArrivingAfterTheDeadlinePlusSettle)},
	{"RecordTokenUsesNeverRevivesATokenWhoseExpiryWasRecorded", withStore(testRecordTokenUsesNeverRevivesATokenWhoseExpiryWasRecorded)},
	{"RecordTokenExpiryLeavesARenewedTokenAlone", withStore(testRecordTokenExpiryLeavesARenewedTokenAlone)},

	// Background jobs, in batches.
	{"RecordTokenExpiriesRecordsEachTokenOnceAcrossBatchesAndConcurrentSweeps",
		withStore(testRecordTokenExpiriesRecordsEachTokenOnceAcrossBatchesAndConcurrentSweeps)},
	{"RecordTokenUsesStoresEveryUseAcrossBatches", withStore(testRecordTokenUsesStoresEveryUseAcrossBatches)},
	{"PruneEventsAcrossBatchesHidesPrunedEventsAndFinishesAnInterruptedRun",
		withStore(testPruneEventsAcrossBatchesHidesPrunedEventsAndFinishesAnInterruptedRun)},

	// Access tokens.
	{"PruneAccessTokensDeletesOnlyExpiredRecords", withStore(testPruneAccessTokensDeletesOnlyExpiredRecords)},
	{"PruneAuthorizationsDeletesOnlyExpiredCodesAndRefreshTokens",
		withStore(testPruneAuthorizationsDeletesOnlyExpiredCodesAndRefreshTokens)},

	// The system log.
	{"BootstrapAppendsUserAndTokenEvents", withStore(testBootstrapAppendsUserAndTokenEvents)},
	{"CreateTokenAppendsOneEvent", withStore(testCreateTokenAppendsOneEvent)},
	{"RevokeTokenAppendsOneEvent", withStore(testRevokeTokenAppendsOneEvent)},
	{"EventWithoutAuditIsBySystem", withStore(testEventWithoutAuditIsBySystem)},
	{"FailedChangeAppendsNoEvent", withStore(testFailedChangeAppendsNoEvent)},
	{"EventChainIsConsistent", withStore(testEventChainIsConsistent)},
	{"ConcurrentWritersExtendOneGapFreeChain", withStore(testConcurrentWritersExtendOneGapFreeChain)},
	{"EventsHoldNoTokenHash", withStore(testEventsHoldNoTokenHash)},

	// Change notifications.
	{"CommittedChangeIsPublished", withStore(testCommittedChangeIsPublished)},
	{"FailedChangePublishesNothing", withStore(testFailedChangePublishesNothing)},
	{"ChangeOnAnotherReplicaIsDelivered", withStore(testChangeOnAnotherReplicaIsDelivered)},
	{"ReplicaHearsChangesAsSoonAsOpenReturns", withStore(testReplicaHearsChangesAsSoonAsOpenReturns)},
	{"ChangeFeedIsHealthyOnceOpen", withStore(testChangeFeedIsHealthyOnceOpen)},

	// Secrets.
	{"NoPlaintextTokenIsStored", withStore(testNoPlaintextTokenIsStored)},

	// Text.
	{"TextThatIsNotUTF8OrHoldsNULIsInvalid", withStore(testTextThatIsNotUTF8OrHoldsNULIsInvalid)},

	// One case per resource (its file), subtests sharing one database.
	{"Zones", withStore(testZones)},
	{"TrustedOrigins", withStore(testTrustedOrigins)},
	{"Registrations", withStore(testRegistrations)},
	{"KeyManagers", withStore(testKeyManagers)},
	{"APIs", withStore(testAPIs)},
	{"Apps", withStore(testApps)},
	{"AppKeys", withStore(testAppKeys)},
	{"Clients", withStore(testClients)},
	{"Agents", withStore(testAgents)},
	{"Groups", withStore(testGroups)},
	{"Users", withStore(testUsers)},
	{"Sessions", withStore(testSessions)},
	{"SetupCodes", withStore(testSetupCodes)},
	{"TokenLifecycle", withStore(testTokenLifecycle)},
	{"TokenSummary", withStore(testTokenSummary)},
	{"AccessTokens", withStore(testAccessTokens)},
	{"Authorizations", withStore(testAuthorizations)},
	{"SigningKeys", withStore(testSigningKeys)},
	{"Settings", withStore(testSettings)},
	{"EventLog", withStore(testEventLog)},
	{"EventSearch", withStore(testEventSearch)},
}

// fixture is one case's world: a fresh database opened as a store whose
// clock only moves when the test moves it.
type fixture struct {
	t       *testing.T // the running test or subtest: helpers fail it
	root    *testing.T // the case: what fixture opens lives until it ends
	ctx     context.Context
	dsn     string
	clock   *testclock.Clock
	db      *store.DB
	closeDB func() // closes db before the test ends, if a case must
	watch   *watcher
}

// withStore adapts a case that wants a ready store.
func withStore(f func(t *testing.T, fx *fixture)) func(t *testing.T, newDSN func(t testing.TB) string) {
	return func(t *testing.T, newDSN func(t testing.TB) string) {
		fx := &fixture{t: t, root: t, ctx: t.Context(), dsn: newDSN(t), clock: testclock.New()}
		db, err := store.Open(t.Context(), fx.dsn, storeOptions(t, fx.clock))
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		fx.db, fx.closeDB = db, closeAtEnd(t, db)
		fx.watch = &watcher{changes: newRecorder(db)}
		f(t, fx)
	}
}

// in returns the fixture for the subtest t, so that its helpers fail t.
func (fx *fixture) in(t *testing.T) *fixture {
	c := *fx
	c.t = t
	return &c
}

// open opens another store on the fixture's database with its clock; it is
// closed when the test ends.
func (fx *fixture) open() *store.DB {
	fx.t.Helper()
	db, err := store.Open(fx.ctx, fx.dsn, storeOptions(fx.root, fx.clock))
	if err != nil {
		fx.t.Fatalf("open another store on the same database: %v", err)
	}
	closeAtEnd(fx.root, db)
	return db
}

// openStore opens dsn, failing the test on error, and closes the store when
// the test ends.
func openStore(t *testing.T, dsn string, clock *testclock.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dsn, storeOptions(t, clock))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	closeAtEnd(t, db)
	return db
}

// storeOptions gives the store the test's clock and logs warnings to the
// test; background jobs work in batches of testBatch rows, and the text of
// new events is indexed only when a case calls IndexNewEvents.
func storeOptions(t *testing.T, clock *testclock.Clock) store.Options {
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return store.Options{Now: clock.Now, Logger: log, BatchSize: testBatch, IndexEvery: -1}
}

// closeAtEnd closes db when the test ends, and returns a func that closes it
// sooner; either way it is closed once.
func closeAtEnd(t *testing.T, db *store.DB) (closeNow func()) {
	var once sync.Once
	closeNow = func() {
		once.Do(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	t.Cleanup(closeNow)
	return closeNow
}

// addUser inserts a user row directly: the Store interface creates users only
// by Bootstrap, and token cases need owners without Bootstrap's events.
func (fx *fixture) addUser(email string) *keysmith.User {
	fx.t.Helper()
	now := fx.clock.Now()
	u := &keysmith.User{ID: keysmith.NewID("usr"), Email: email, Name: "User " + email,
		Role: keysmith.RoleDeveloper, Type: keysmith.UserPerson, Status: keysmith.UserActive,
		CreatedAt: now, UpdatedAt: now}
	_, err := fx.db.SQL().ExecContext(fx.ctx, `INSERT INTO users (id, email, name, role, type, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.Email, u.Name, string(u.Role), string(u.Type), string(u.Status), now.UnixMicro(), now.UnixMicro())
	if err != nil {
		fx.t.Fatalf("insert user: %v", err)
	}
	return u
}

// storedFields compares tokens by what the store keeps: Owner is joined on
// read, by FindTokenByID and FindTokens only (see TokenOwnerIsJoinedOnRead).
var storedFields = cmpopts.IgnoreFields(keysmith.Token{}, "Owner")

// newToken returns an unsaved token of owner created now, with its secret's
// hash.
func (fx *fixture) newToken(owner *keysmith.User) (*keysmith.Token, keysmith.Secret, keysmith.Hash) {
	secret, hash := keysmith.NewAPITokenSecret()
	t := &keysmith.Token{ID: keysmith.NewID("tok"), Name: "token " + secret.Reveal()[3:9], Type: keysmith.TokenUser,
		OwnerID: owner.ID, CreatedAt: fx.clock.Now(), CreatedBy: owner.ID,
		Network: keysmith.NetworkPolicy{Mode: keysmith.NetworkAny}, RateLimitPercent: keysmith.DefaultRateLimitPercent,
		IdleTTL: keysmith.DefaultIdleTTL, Meta: json.RawMessage("{}")}
	return t, secret, hash
}

// createToken creates a token of owner at the clock's time.
func (fx *fixture) createToken(owner *keysmith.User) (*keysmith.Token, keysmith.Hash) {
	fx.t.Helper()
	t, _, h := fx.newToken(owner)
	fx.mustCreate(fx.ctx, t, h)
	return t, h
}

// mustCreate stores t, failing the test on error.
func (fx *fixture) mustCreate(ctx context.Context, t *keysmith.Token, h keysmith.Hash) {
	fx.t.Helper()
	if err := fx.db.CreateToken(ctx, t, h); err != nil {
		fx.t.Fatalf("CreateToken %s: %v", t.ID, err)
	}
}

// mustFindToken reads a token by id, failing the test on error.
func (fx *fixture) mustFindToken(id string) *keysmith.Token {
	fx.t.Helper()
	t, err := fx.db.FindTokenByID(fx.ctx, id)
	if err != nil {
		fx.t.Fatalf("FindTokenByID %s: %v", id, err)
	}
	return t
}

// count returns the number of rows in table.
func (fx *fixture) count(table string) int {
	fx.t.Helper()
	var n int
	if err := fx.db.SQL().QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		fx.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// counts returns the row count of every table a change may touch, to show
// that a failed change left them alone.
func (fx *fixture) counts() map[string]int {
	fx.t.Helper()
	out := map[string]int{}
	for _, table := range []string{"users", "bootstrap", "tokens", "events"} {
		out[table] = fx.count(table)
	}
	return out
}

// wantCode fails the test unless err carries code.
func wantCode(t testing.TB, what string, err error, code keysmith.Code) {
	t.Helper()
	if got := keysmith.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (err %v), want %q", what, got, err, code)
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// concurrently runs f(0) … f(n-1) in goroutines released together, and
// waits for them all.
func concurrently(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// recorder collects published changes and lets a test wait for one.
type recorder struct {
	mu      sync.Mutex
	changes []keysmith.Change
	arrived chan struct{} // signalled (without blocking) on every change
}

func newRecorder(db *store.DB) *recorder {
	r := &recorder{arrived: make(chan struct{}, 1)}
	db.Subscribe(r.record)
	return r
}

func (r *recorder) record(c keysmith.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
}

// got returns the changes so far.
func (r *recorder) got() []keysmith.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]keysmith.Change(nil), r.changes...)
}

// deliveryTimeout bounds the wait for a change to arrive from another
// connection; arrival is normally a matter of milliseconds.
const deliveryTimeout = 5 * time.Second

// wait blocks until c has been published, failing the test after
// deliveryTimeout.
func (r *recorder) wait(t testing.TB, c keysmith.Change) {
	t.Helper()
	r.waitFrom(t, 0, c)
}

// waitFrom is wait for a c published after the first n changes.
func (r *recorder) waitFrom(t testing.TB, n int, c keysmith.Change) {
	t.Helper()
	timeout := time.NewTimer(deliveryTimeout)
	defer timeout.Stop()
	for !slices.Contains(r.got()[n:], c) {
		select {
		case <-r.arrived:
		case <-timeout.C:
			t.Fatalf("change %+v not published within %v; got %v", c, deliveryTimeout, r.got())
		}
	}
}

// tokenChange is the change a token's creation or revocation publishes.
func tokenChange(id string) keysmith.Change {
	return keysmith.Change{Kind: keysmith.ChangeToken, ID: id}
}

// describe names a token for failure messages.
func describe(t *keysmith.Token) string {
	return fmt.Sprintf("%s (created %s)", t.ID, t.CreatedAt.Format(time.RFC3339Nano))
}

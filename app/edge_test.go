package app_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// refusal is a request the server must refuse at its edge: with status and
// a JSON error body whose "error" is code and whose description names
// mention, changing nothing and logging no error.
type refusal struct {
	name    string
	req     func() *http.Request
	status  int
	code    string
	mention string // "" for failed authentications, which name nothing
}

// edgeWorld is a server with something in every table a refused request
// could touch, and what its tests need to build requests.
type edgeWorld struct {
	*apptest.Server
	errors  *errorLog
	tokenID string
	client  client
	groupID string
}

func startEdgeWorld(t *testing.T, dsn string) *edgeWorld {
	t.Helper()
	errs := &errorLog{}
	s := apptest.Start(t, dsn, app.Config{Log: slog.New(slog.NewTextHandler(errs, &slog.HandlerOptions{Level: slog.LevelError}))})
	w := &edgeWorld{Server: s, errors: errs}
	w.tokenID, _ = newToken(t, s, s.AdminToken, "edge")
	registerScopes(t, s, "a")
	appID := s.Do("POST", "/v1/apps", s.AdminToken, map[string]any{"name": "edge"}).Want(t, http.StatusCreated).String("app_id")
	w.client = newClient(t, s, s.AdminToken, map[string]any{"app_id": appID, "scopes": []string{"a"}, "grant_types": []string{"client_credentials"}})
	w.groupID = s.Do("POST", "/v1/groups", s.AdminToken, map[string]any{"name": "edge"}).Want(t, http.StatusCreated).String("id")
	return w
}

// request builds a request to path (escapes kept as written) with a raw
// body: JSON if it starts with '{', a form otherwise.
func (w *edgeWorld) request(method, path, bearer, body string) func() *http.Request {
	return func() *http.Request {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, w.URL+path, rd)
		if err != nil {
			panic(err)
		}
		switch {
		case strings.HasPrefix(body, "{"):
			req.Header.Set("Content-Type", "application/json")
		case body != "":
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return req
	}
}

// withHeader adds a header to what build builds.
func withHeader(build func() *http.Request, name, value string) func() *http.Request {
	return func() *http.Request {
		req := build()
		req.Header.Set(name, value)
		return req
	}
}

// basic sets client_secret_basic credentials, form-encoded inside as RFC
// 6749 §2.3.1 says.
func basic(build func() *http.Request, id, secret string) func() *http.Request {
	return withHeader(build, "Authorization",
		"Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
}

// refuseAll sends each case and checks that it was refused as it says,
// that no table changed (the system log included: every change appends an
// event) and that nothing was logged at level ERROR.
func (w *edgeWorld) refuseAll(t *testing.T, cases []refusal) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := w.rows(t)
			r := w.Send(c.req())
			if r.Status != c.status || r.String("error") != c.code {
				t.Errorf("status %d, error %q, want %d %q; body: %s", r.Status, r.String("error"), c.status, c.code, r.Raw)
			}
			if d := r.String("error_description"); d == "" || !strings.Contains(d, c.mention) {
				t.Errorf("error_description %q does not mention %q", d, c.mention)
			}
			if after := w.rows(t); !equalCounts(before, after) {
				t.Errorf("a refused request changed the database: rows %v, then %v", before, after)
			}
			if logged := w.errors.take(); logged != "" {
				t.Errorf("a refused request logged an error:\n%s", logged)
			}
		})
	}
}

// edgeTables are the tables a request could change.
var edgeTables = []string{"users", "tokens", "sessions", "apps", "oauth_clients", "oauth_client_secrets",
	"oauth_tokens", "user_groups", "group_members", "zones", "agents", "settings", "events"}

func (w *edgeWorld) rows(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range edgeTables {
		out[table] = countRows(t, w.Server, table)
	}
	return out
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// errorLog collects what the server logs at level ERROR.
type errorLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns what was logged since the last take.
func (l *errorLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// TestBadTextIsRefusedAtTheEdge: a NUL byte or invalid UTF-8 in any string a
// request carries (path value, query parameter, form value, Basic
// credentials, JSON string at any depth, a header kept as data) is answered
// 400 invalid_request naming the field, or 401 where the string is a
// credential, before any lookup: the same on both engines, with nothing
// changed and no error logged.
func TestBadTextIsRefusedAtTheEdge(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		w := startEdgeWorld(t, dsn)
		admin, tok, c := w.AdminToken, "/v1/tokens/"+w.tokenID, w.client
		grant := "grant_type=client_credentials"
		w.refuseAll(t, []refusal{
			// Credentials: a failed authentication, as any other.
			{"NULInClientIDAtTheTokenEndpointIs401", w.request("POST", "/v1/oauth/token", "", grant+"&client_id=cli_%00x&client_secret=kss_x"), 401, "invalid_client", ""},
			{"InvalidUTF8InBasicClientIDIs401", basic(w.request("POST", "/v1/oauth/token", "", grant), "cli_\xff", c.Secret), 401, "invalid_client", ""},
			{"NULInClientSecretIs401", w.request("POST", "/v1/oauth/token", "", grant+"&client_id="+c.ID+"&client_secret=kss_%00"), 401, "invalid_client", ""},
			{"NULInClientIDAtIntrospectionIs401", w.request("POST", "/v1/oauth/introspect", "", "token=x&client_id=cli_%00&client_secret=x"), 401, "invalid_client", ""},
			{"InvalidUTF8InBearerTokenIs401", w.request("GET", "/v1/tokens", "ks_\xff\xfe", ""), 401, "unauthorized", ""},
			// Path values.
			{"NULInTokenIDIs400", w.request("GET", "/v1/tokens/tok_%00x", admin, ""), 400, "invalid_request", `"id"`},
			{"InvalidUTF8InUserIDIs400", w.request("GET", "/v1/users/%ff%fe", admin, ""), 400, "invalid_request", `"id"`},
			{"NULInMemberIDIs400", w.request("PUT", "/v1/groups/"+w.groupID+"/members/usr_%00", admin, ""), 400, "invalid_request", `"user_id"`},
			{"NULInClientIDOfASecretIs400", w.request("DELETE", "/v1/oauth/clients/"+c.ID+"/secrets/sec_%00", admin, ""), 400, "invalid_request", `"secret_id"`},
			// Query parameters, names and values.
			{"NULInLogSearchIs400", w.request("GET", "/v1/logs?q=%00", admin, ""), 400, "invalid_request", `"q"`},
			{"LogSearchOfTwoCharactersIs400", w.request("GET", "/v1/logs?q=ab", admin, ""), 400, "invalid_request", "at least 3 characters"},
			{"LogExportSearchOfTwoCharactersIs400", w.request("GET", "/v1/logs/export?q=%C3%BC1", admin, ""), 400, "invalid_request", "at least 3 characters"},
			{"InvalidUTF8InTokenOwnerFilterIs400", w.request("GET", "/v1/tokens?owner=%ff", admin, ""), 400, "invalid_request", `"owner"`},
			{"NULInAQueryParameterNameIs400", w.request("GET", "/v1/users?q%00=x", admin, ""), 400, "invalid_request", "query parameter"},
			// OAuth form values other than credentials.
			{"NULInScopeIs400", w.request("POST", "/v1/oauth/token", "", grant+"&scope=a%00&client_id="+c.ID+"&client_secret="+c.Secret), 400, "invalid_request", "scope"},
			{"InvalidUTF8InTokenToIntrospectIs400", basic(w.request("POST", "/v1/oauth/introspect", "", "token=%ff"), c.ID, c.Secret), 400, "invalid_request", "token"},
			// JSON strings, at any depth.
			{"NULInAppDescriptionIs400", w.request("POST", "/v1/apps", admin, `{"name":"x","description":"x\u0000y"}`), 400, "invalid_request", `"description"`},
			{"InvalidUTF8InTokenNameIs400", w.request("POST", "/v1/tokens", admin, "{\"name\":\"x\xffy\"}"), 400, "invalid_request", `"name"`},
			{"NULInMetaIs400", w.request("PATCH", tok, admin, `{"meta":{"team":{"lead":"a\u0000"}}}`), 400, "invalid_request", `"meta.team.lead"`},
			{"InvalidUTF8InMetaIs400", w.request("PATCH", tok, admin, "{\"meta\":{\"team\":\"\xc3\"}}"), 400, "invalid_request", `"meta.team"`},
			{"NULInAFieldNameIs400", w.request("PATCH", tok, admin, `{"meta":{"te\u0000am":"x"}}`), 400, "invalid_request", "meta.te"},
			{"NULInAnArrayIs400", w.request("POST", "/v1/zones", admin, `{"name":"z","gateways":["10.0.0.0/8","\u0000"]}`), 400, "invalid_request", `"gateways[1]"`},
			{"NULInSignInEmailIs400", w.request("POST", "/v1/sessions", "", `{"email":"admin@localhost\u0000","password":"whatever1"}`), 400, "invalid_request", `"email"`},
			{"NULInVerifiedTokenIs400", w.request("POST", "/v1/verify", "", `{"token":"ks_\u0000"}`), 400, "invalid_request", `"token"`},
		})
	})
}

// TestUserAgentThatIsNotUTF8IsKeptAsText: a gateway or an old client may
// send a Latin-1 User-Agent. That is no reason to refuse the request; what is
// kept of it (sessions, the system log) has the bad bytes replaced.
func TestUserAgentThatIsNotUTF8IsKeptAsText(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		s := apptest.Start(t, dsn, app.Config{})
		for _, path := range []string{"/healthz", "/v1/me"} {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+s.AdminToken)
			req.Header.Set("User-Agent", "probe/\xe9t\xe9")
			s.Send(req).Want(t, http.StatusOK)
		}
		req, _ := http.NewRequest("POST", s.URL+"/v1/groups", strings.NewReader(`{"name":"g"}`))
		req.Header.Set("Authorization", "Bearer "+s.AdminToken)
		req.Header.Set("User-Agent", "probe/\xe9t\xe9")
		s.Send(req).Want(t, http.StatusCreated)
		r := s.Do("GET", "/v1/logs?type=group.created", s.AdminToken, nil).Want(t, http.StatusOK)
		if !strings.Contains(string(r.Raw), "probe/\ufffdt\ufffd") && !strings.Contains(string(r.Raw), "probe/\\ufffdt\\ufffd") {
			t.Errorf("the event's user agent: %s, want the bad bytes replaced by U+FFFD", r.Raw)
		}
	})
}

// TestAmbiguousJSONIsRefused: a JSON body that two parsers could read
// differently (a key given twice, where encoding/json keeps the last; a field
// name that matches only in another case, which encoding/json takes) is
// answered 400 invalid_request naming the field, at any depth, meta
// included: the same on both engines, with nothing changed.
func TestAmbiguousJSONIsRefused(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, dsn string) {
		w := startEdgeWorld(t, dsn)
		admin, tok := w.AdminToken, "/v1/tokens/"+w.tokenID
		w.refuseAll(t, []refusal{
			{"UpperCaseFieldNameIs400", w.request("POST", "/v1/tokens", admin, `{"name":"x","OWNER_ID":"`+w.AdminID+`"}`), 400, "invalid_request", `did you mean "owner_id"`},
			{"FieldNameInAnotherCaseBesideTheExactOneIs400", w.request("POST", "/v1/apps", admin, `{"name":"x","Name":"y"}`), 400, "invalid_request", `"Name"`},
			{"FieldNameWithAKelvinSignForKIs400", w.request("POST", "/v1/agents", admin, `{"name":"x","\u212aind":"ci"}`), 400, "invalid_request", `did you mean "kind"`},
			{"NestedFieldNameInAnotherCaseIs400", w.request("PATCH", tok, admin, `{"network":{"Mode":"any"}}`), 400, "invalid_request", `"network.Mode"`},
			{"DuplicateKeyIs400", w.request("POST", "/v1/tokens", admin, `{"name":"a","name":"b"}`), 400, "invalid_request", `"name" appears more than once`},
			{"DuplicateKeyWhoseLastWouldWinIs400", w.request("PATCH", tok, admin, `{"enabled":true,"enabled":false}`), 400, "invalid_request", `"enabled"`},
			{"DuplicateKeyInMetaIs400", w.request("PATCH", tok, admin, `{"meta":{"team":"a","team":"b"}}`), 400, "invalid_request", `"meta.team"`},
			{"DuplicateKeyDeepInMetaIs400", w.request("PATCH", tok, admin, `{"meta":{"x":[{"a":1},{"a":1,"a":2}]}}`), 400, "invalid_request", `"meta.x[1].a"`},
			{"DuplicateRateLimitGroupIs400", w.request("PUT", "/v1/settings/rate-limits", admin, `{"tokens":10,"tokens":1000}`), 400, "invalid_request", `"tokens"`},
			{"DuplicateKeyAtVerifyIs400", w.request("POST", "/v1/verify", "", `{"token":"ks_a","token":"ks_b"}`), 400, "invalid_request", `"token"`},
			{"DuplicateKeyAtSignInIs400", w.request("POST", "/v1/sessions", "", `{"email":"a@example.com","email":"admin@localhost","password":"whatever1"}`), 400, "invalid_request", `"email"`},
		})
	})
}

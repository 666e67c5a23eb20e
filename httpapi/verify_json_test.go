package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyResponseJSON: appendVerifyResponse writes what json.Marshal
// writes, then "\n", for any field values, and declines exactly what
// json.Marshal refuses. Scopes and missing are "\x1f"-separated lists;
// nilScopes makes scopes nil rather than empty.
func FuzzVerifyResponseJSON(f *testing.F) {
	odd := "a<b>&c\"d\\e\x00\x01\x1f\x7f\n\r\t\b\f\u2028\u2029\xff\xe2\x80é😀"
	f.Add(true, "VALID", "tok_1", "read\x1fwrite", false, "", "user_1", "api_key", true, int64(1893456000), int64(123456789), 0,
		[]byte(`{"a":1,"b":[true,null,"x"]}`), "", "app_1", "live", "", "", true, "u1", "a@b.c", "admin", "active", true, 100, 99, 60)
	f.Add(false, "INSUFFICIENT_PERMISSIONS", "tok_2", "", false, "x\x1fy", "", "", false, int64(0), int64(0), 0,
		[]byte(nil), "", "", "", "", "", false, "", "", "", "", false, 0, 0, 0)
	f.Add(false, "NOT_FOUND", "", "", true, "", "", "", false, int64(0), int64(0), 0,
		[]byte(nil), "", "", "", "", "", false, "", "", "", "", true, -1, -5, 0)
	f.Add(true, odd, odd, odd+"\x1f"+odd, false, odd, odd, odd, true, int64(-62135596800), int64(1), -3600*5-1800,
		[]byte(" { \"<a>\" : \"&\u2028\xff\" , \"b\" : [ 1 , 2 ] } "), odd, odd, odd, odd, odd, true, odd, odd, odd, odd, true, 1<<40, -1<<40, 7)
	f.Add(true, "VALID", "t", "", false, "", "", "", true, int64(253402300800), int64(0), 37, // year 10000: Marshal refuses
		[]byte(`null`), "c", "", "", "read write", "u", false, "", "", "", "", false, 0, 0, 0)
	f.Add(true, "VALID", "t", "", false, "", "", "", false, int64(0), int64(0), 0,
		[]byte(`{"a":`), "", "", "", "", "", false, "", "", "", "", false, 0, 0, 0) // invalid meta: Marshal refuses
	f.Add(true, "VALID", "t", "", false, "", "", "", true, int64(1700000000), int64(5e8), 3600*14,
		[]byte(`"x"`), "", "", "", "", "", false, "", "", "", "", false, 0, 0, 0)
	f.Fuzz(func(t *testing.T, valid bool, code, tokenID, scopes string, nilScopes bool, missing, ownerID, typ string,
		hasExpires bool, sec, nsec int64, offset int, meta []byte, clientID, appID, env, scope, userID string,
		hasOwner bool, oid, email, role, status string, hasRL bool, limit, remaining, reset int) {
		out := verifyResponse{Valid: valid, Code: code, TokenID: tokenID, OwnerID: ownerID, Type: typ, Meta: meta,
			ClientID: clientID, AppID: appID, Environment: env, Scope: scope, UserID: userID}
		if userID != "" || clientID != "" { // the external fields reuse inputs: any text, same rules
			out.externalJSON = &externalJSON{Subject: userID, KeyManager: clientID}
		}
		if !nilScopes {
			out.Scopes = splitList(scopes)
		}
		if missing != "" {
			out.Missing = splitList(missing)
		}
		if hasExpires {
			at := time.Unix(sec, nsec).In(time.FixedZone("z", offset%(100*3600)))
			out.ExpiresAt = &at
		}
		if hasOwner {
			out.Owner = &ownerJSON{ID: oid, Email: email, Role: role, Status: status}
		}
		if hasRL {
			out.RateLimit = &rateLimitJSON{Limit: limit, Remaining: remaining, Reset: reset}
		}
		want, err := json.Marshal(&out)
		got, ok := appendVerifyResponse(nil, &out)
		switch {
		case err != nil && ok:
			t.Fatalf("json.Marshal refuses (%v), appendVerifyResponse wrote %q", err, got)
		case err == nil && !ok:
			t.Fatalf("appendVerifyResponse declined what json.Marshal writes: %q", want)
		case err == nil && string(got) != string(want)+"\n":
			t.Fatalf("appendVerifyResponse wrote\n%q\njson.Marshal\n%q", got, want)
		}
	})
}

// splitList is a fuzzed "\x1f"-separated list; "" is the empty list.
func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\x1f")
}

// FuzzVerifyRequestDecode: a body decodeVerifyRequest takes decodes to the
// same request through decodeBody (which then accepts it too).
func FuzzVerifyRequestDecode(f *testing.F) {
	for _, body := range []string{
		`{"token":"ks_abc"}`,
		` { "token" : "ks_abc" , "ip" : "10.0.0.1" , "scopes" : [ "a" , "b" ] , "permissions" : "x and y" , "environment" : "live" } `,
		"\t\r\n{\"token\":\"ks\",\"ip\":null,\"scopes\":null,\"permissions\":null,\"environment\":null}\n",
		`{"token":null}`, `{}`, `{"scopes":[]}`, `{"scopes":[ ]}`, `{"scopes":[""]}`, `{"ip":""}`,
		`{"token":"a","token":"b"}`, `{"Token":"a"}`, `{"tokens":"a"}`, `{"token":"a\"b"}`, `{"token":"a\u0000"}`,
		`{"token":"a\nb"}`, "{\"token\":\"a\x00\"}", "{\"token\":\"\xff\"}", "{\"token\":\"é😀\u2028<>&\"}",
		`{"token":1}`, `{"token":true}`, `{"scopes":"a"}`, `{"scopes":[1]}`, `{"scopes":[null]}`, `{"scopes":[["a"]]}`,
		`{"ip":{}}`, `{"token":"a",}`, `{"token":"a"} {}`, `[]`, `null`, ``, ` `, `{"token":"a"`, `{"token" "a"}`,
		`{"token":nul}`, `{"token":nullx}`, `{"token":"a"}x`, `{,}`, `{"token":"a",,"ip":"b"}`, `{"scopes":["a",]}`,
		`{"scopes":[,"a"]}`, `{"scopes":["a" "b"]}`, `{"token":"ks"/**/}`, "\ufeff{}",
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow verifyRequest
		if !decodeVerifyRequest(body, &fast) {
			return
		}
		if err := decodeBody(body, &slow); err != nil {
			t.Fatalf("fast path took %q, decodeBody refuses: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast path gives %#v, decodeBody %#v", body, fast, slow)
		}
	})
}

// TestDecodeVerifyAsDecode: decodeVerify answers every request as decode
// does, the Content-Type check and the size limit included.
func TestDecodeVerifyAsDecode(t *testing.T) {
	big := `{"token":"` + strings.Repeat("a", maxBody) + `"}`
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"token":"ks_a","scopes":["a"],"ip":"1.2.3.4"}`},
		{"", `{"token":"ks_a"}`},
		{"application/merge-patch+json; charset=utf-8", `{"token":"ks_a"}`},
		{"text/plain", `{"token":"ks_a"}`},
		{"application/json; x", `{"token":"ks_a"}`},
		{"application/json", big},
		{"application/json", ``},
		{"application/json", `{"token":"a","token":"b"}`},
		{"application/json", `{"TOKEN":"a"}`},
		{"application/json", `{"scopes":"a"}`},
		{"application/json", `{"token":"a\u0000"}`},
		{"application/json", "{\"token\":\"\xff\"}"},
		{"application/json", `{"token":"a"} x`},
	} {
		req := func() *http.Request {
			r := httptest.NewRequest("POST", "/v1/verify", strings.NewReader(c.body))
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			return r
		}
		var a, b verifyRequest
		errA := decodeVerify(httptest.NewRecorder(), req(), &a)
		errB := decode(httptest.NewRecorder(), req(), &b)
		if !reflect.DeepEqual(errA, errB) || !reflect.DeepEqual(a, b) {
			t.Errorf("Content-Type %q, body %.40q: decodeVerify %#v, %v; decode %#v, %v", c.ct, c.body, a, errA, b, errB)
		}
	}
}

// TestWriteVerifyAsWriteJSON: writeVerify answers as writeJSON does, and
// falls back to it where the hand encoder declines.
func TestWriteVerifyAsWriteJSON(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))
	for _, out := range []verifyResponse{
		{Valid: true, Code: "VALID", TokenID: "t", Scopes: []string{}, ExpiresAt: &now, Meta: json.RawMessage(`{"a":"<b>"}`),
			Owner: &ownerJSON{ID: "u"}, RateLimit: &rateLimitJSON{Limit: 1}},
		{Code: "NOT_FOUND"},
		{Valid: true, ExpiresAt: &far},
		{Valid: true, Meta: json.RawMessage(`{`)},
	} {
		a, b := httptest.NewRecorder(), httptest.NewRecorder()
		writeVerify(a, &out)
		writeJSON(b, http.StatusOK, out)
		if a.Code != b.Code || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) || !reflect.DeepEqual(a.Header(), b.Header()) {
			t.Errorf("writeVerify %d %v %q; writeJSON %d %v %q", a.Code, a.Header(), a.Body, b.Code, b.Header(), b.Body)
		}
	}
}

// TestDecodeVerifyRequestTakesPlainBodies: what gateways send is read
// without reflection, and what needs encoding/json's judgement is not.
func TestDecodeVerifyRequestTakesPlainBodies(t *testing.T) {
	for body, want := range map[string]bool{
		`{"token":"ks_abc"}`: true,
		` { "token" : "ks_abc" , "ip" : "10.0.0.1" , "scopes" : [ "a" , "b" ] , "permissions" : "x and y" , "environment" : "live" } `: true,
		`{"token":"ks","ip":null,"scopes":null,"permissions":null,"environment":null}`:                                                 true,
		`{"scopes":[]}`:             true,
		`{}`:                        true,
		`{"token":"a","token":"b"}`: false,
		`{"Token":"a"}`:             false,
		`{"token":"a\u0041"}`:       false,
		`{"token":1}`:               false,
		`{"token":"a"} {}`:          false,
		"{\"token\":\"\xff\"}":      false,
	} {
		var req verifyRequest
		if got := decodeVerifyRequest([]byte(body), &req); got != want {
			t.Errorf("decodeVerifyRequest(%q) = %v, want %v", body, got, want)
		}
	}
}

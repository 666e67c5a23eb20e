package httpapi

// POST /v1/verify is called by a gateway in front of every request it lets
// through, so its cost is a floor under theirs (issue 18: it must serve at
// least 0.85 of a bare hello handler's requests/s). Most of that cost was
// encoding/json: reflection to decode a five-field request and to encode
// the answer. This file does both by hand for the verify endpoint only,
// without changing a byte of what it answers or what it refuses:
//
//   - appendVerifyResponse writes a verifyResponse exactly as
//     json.Marshal does, then "\n" (as writeJSON's Encoder): HTML-safe
//     escaping (<, >, & as \u003c …), U+2028 and U+2029 escaped, invalid
//     UTF-8 as \ufffd, omitempty and omitzero as the struct tags say,
//     expires_at by time.Time's own text, meta compacted and HTML-escaped.
//     Anything it cannot write the same way (a time encoding/json refuses,
//     meta that is not valid JSON) is handed to writeJSON, which answers as
//     it always did.
//   - decodeVerifyRequest takes only the plainest bodies: one object of
//     known, distinct keys whose values are strings without escapes and
//     with valid text, arrays of such strings, or null. Every other body,
//     and so every error, goes through decodeBody, unchanged.
//
// FuzzVerifyResponseJSON and FuzzVerifyRequestDecode (verify_json_test.go)
// prove the equality: the first compares appendVerifyResponse with
// json.Marshal for arbitrary field values, the second requires that a body
// the fast decoder takes decodes to the same request through decodeBody,
// and that the fast decoder never takes a body decodeBody refuses. Their
// seeds run with the normal tests.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
)

// writeVerify answers out with 200, as writeJSON(w, http.StatusOK, out)
// does.
func writeVerify(w http.ResponseWriter, out *verifyResponse) {
	bp := verifyBufs.Get().(*[]byte)
	b, ok := appendVerifyResponse((*bp)[:0], out)
	if !ok {
		verifyBufs.Put(bp)
		writeJSON(w, http.StatusOK, out)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonType
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		verifyBufs.Put(bp)
	}
}

// verifyBufs holds writeVerify's buffers.
var verifyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendVerifyResponse appends out as json.Marshal writes it, and "\n". It
// reports false when encoding/json would have to decide (it would refuse
// the value, or rewrite meta in a way this does not); b is then garbage.
func appendVerifyResponse(b []byte, out *verifyResponse) ([]byte, bool) {
	b = append(b, `{"valid":`...)
	b = strconv.AppendBool(b, out.Valid)
	b = append(b, `,"code":`...)
	b = appendJSONString(b, out.Code)
	b = appendStringField(b, `,"token_id":`, out.TokenID)
	if out.Scopes != nil {
		b = appendStrings(append(b, `,"scopes":`...), out.Scopes)
	}
	if len(out.Missing) > 0 {
		b = appendStrings(append(b, `,"missing":`...), out.Missing)
	}
	b = appendStringField(b, `,"owner_id":`, out.OwnerID)
	b = appendStringField(b, `,"type":`, out.Type)
	if out.ExpiresAt != nil {
		var err error
		b = append(b, `,"expires_at":"`...)
		if b, err = out.ExpiresAt.AppendText(b); err != nil { // MarshalJSON's text, and error
			return b, false
		}
		b = append(b, '"')
	}
	if len(out.Meta) > 0 {
		var ok bool
		if b, ok = appendRawJSON(append(b, `,"meta":`...), out.Meta); !ok {
			return b, false
		}
	}
	b = appendStringField(b, `,"client_id":`, out.ClientID)
	b = appendStringField(b, `,"app_id":`, out.AppID)
	b = appendStringField(b, `,"env":`, out.Environment)
	b = appendStringField(b, `,"scope":`, out.Scope)
	b = appendStringField(b, `,"user_id":`, out.UserID)
	if x := out.externalJSON; x != nil {
		b = appendStringField(b, `,"sub":`, x.Subject)
		b = appendStringField(b, `,"key_manager":`, x.KeyManager)
	}
	if o := out.Owner; o != nil {
		b = appendJSONString(append(b, `,"owner":{"id":`...), o.ID)
		b = appendJSONString(append(b, `,"email":`...), o.Email)
		b = appendJSONString(append(b, `,"role":`...), o.Role)
		b = appendJSONString(append(b, `,"status":`...), o.Status)
		b = append(b, '}')
	}
	if rl := out.RateLimit; rl != nil {
		b = strconv.AppendInt(append(b, `,"ratelimit":{"limit":`...), int64(rl.Limit), 10)
		b = strconv.AppendInt(append(b, `,"remaining":`...), int64(rl.Remaining), 10)
		b = strconv.AppendInt(append(b, `,"reset":`...), int64(rl.Reset), 10)
		b = append(b, '}')
	}
	return append(b, "}\n"...), true
}

// appendStringField appends an omitempty string member: name (with its
// comma and colon) and s, unless s is empty.
func appendStringField(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, name...), s)
}

// appendStrings appends ss as a JSON array of strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendRawJSON appends raw as encoding/json writes a json.RawMessage:
// compacted, with <, >, &, U+2028 and U+2029 escaped. It reports false when
// raw is not valid JSON (json.Marshal's error).
func appendRawJSON(b, raw []byte) ([]byte, bool) {
	if !json.Valid(raw) {
		return b, false
	}
	if bytes.IndexAny(raw, " \t\n\r<>&\xe2") < 0 { // as the store keeps it: compact, nothing to escape
		return append(b, raw...), true
	}
	var compact, escaped bytes.Buffer
	if json.Compact(&compact, raw) != nil {
		return b, false
	}
	json.HTMLEscape(&escaped, compact.Bytes())
	return append(b, escaped.Bytes()...), true
}

// appendJSONString appends s as a JSON string the way encoding/json writes
// it with HTML escaping (its appendString).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control characters, <, > and &
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeVerify reads a verify request into req as decode does, with the
// same Content-Type check, size limit, errors and refusals; a plain body
// (decodeVerifyRequest) is read without reflection.
func decodeVerify(w http.ResponseWriter, r *http.Request, req *verifyRequest) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return decodeError(err)
	}
	if decodeVerifyRequest(body, req) {
		return nil
	}
	*req = verifyRequest{}
	return decodeBody(body, req)
}

// decodeVerifyRequest decodes body into req (which must be zero) when body
// is one JSON object, surrounded by space at most, whose keys are
// verifyRequest's field names, each at most once, and whose values are
// strings without escapes whose text is valid (UTF-8, no NUL), arrays of
// such strings for scopes, or null. It reports false for any other body,
// leaving req partly filled.
func decodeVerifyRequest(body []byte, req *verifyRequest) bool {
	p := plainJSON{b: body}
	p.space()
	if !p.byte('{') {
		return false
	}
	var seen uint8
	p.space()
	if !p.byte('}') {
		for {
			key, ok := p.str()
			if !ok {
				return false
			}
			p.space()
			if !p.byte(':') {
				return false
			}
			p.space()
			var bit uint8
			switch key {
			case "token":
				bit, ok = 1, p.stringInto(&req.Token)
			case "ip":
				bit, ok = 2, p.stringPtrInto(&req.IP)
			case "scopes":
				bit, ok = 4, p.stringsInto(&req.Scopes)
			case "permissions":
				bit, ok = 8, p.stringPtrInto(&req.Permissions)
			case "environment":
				bit, ok = 16, p.stringInto(&req.Environment)
			default:
				return false
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			p.space()
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return false
			}
			p.space()
		}
	}
	p.space()
	return p.i == len(p.b)
}

// plainJSON reads the subset of JSON decodeVerifyRequest takes.
type plainJSON struct {
	b []byte
	i int
}

func (p *plainJSON) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// byte consumes c if it is next.
func (p *plainJSON) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// null consumes null if it is next.
func (p *plainJSON) null() bool {
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

// str reads a string without escapes or control characters, of valid
// UTF-8: what it is written as is what it means.
func (p *plainJSON) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return string(s), utf8.Valid(s)
		case c < 0x20 || c == '\\':
			return "", false
		}
	}
	return "", false
}

// stringInto reads a string into *dst, or null (leaving it, as
// encoding/json does).
func (p *plainJSON) stringInto(dst *string) bool {
	if p.null() {
		return true
	}
	s, ok := p.str()
	*dst = s
	return ok
}

// stringPtrInto reads a string into a new *dst, or null (nil).
func (p *plainJSON) stringPtrInto(dst **string) bool {
	if p.null() {
		*dst = nil
		return true
	}
	s, ok := p.str()
	*dst = &s
	return ok
}

// stringsInto reads an array of strings into *dst ([] is empty, not nil),
// or null (nil).
func (p *plainJSON) stringsInto(dst *[]string) bool {
	if p.null() {
		*dst = nil
		return true
	}
	if !p.byte('[') {
		return false
	}
	ss := []string{}
	p.space()
	if !p.byte(']') {
		for {
			s, ok := p.str()
			if !ok {
				return false
			}
			ss = append(ss, s)
			p.space()
			if p.byte(']') {
				break
			}
			if !p.byte(',') {
				return false
			}
			p.space()
		}
	}
	*dst = ss
	return true
}

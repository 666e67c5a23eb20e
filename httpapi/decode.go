package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keysmith/keysmith"
)

// maxBody is the largest request body any endpoint accepts.
const maxBody = 1 << 20

// decode reads a JSON request body into v strictly: the media type must be
// JSON (or absent), the body at most 1 MiB, one object, no unknown fields, and
// every field of the right type. Before decoding, scanJSON refuses what
// encoding/json would let through but another parser (a WAF in front, a
// database behind) would read differently: a key given twice, a field name
// that matches only in another case, and text with NUL or invalid UTF-8, at
// any depth. Each failure says what was wrong, naming the field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return decodeError(err)
	}
	return decodeBody(body, v)
}

// checkContentType refuses a request whose media type is neither JSON nor
// absent.
func checkContentType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("Content-Type %q is not supported; send a JSON body with Content-Type: application/json", ct)}
		}
	}
	return nil
}

// decodeBody is decode after the body is read: body into v, strictly.
func decodeBody(body []byte, v any) error {
	if json.Valid(body) {
		if err := scanValidJSON(body, reflect.TypeOf(v)); err != nil {
			return err
		}
		// One valid JSON value, whose keys scanValidJSON has checked
		// against v's fields: Unmarshal decodes it without a Decoder's
		// copies. Only a type error is left to find.
		if err := json.Unmarshal(body, v); err != nil {
			return decodeError(err)
		}
		return nil
	}
	// Not valid JSON: the Decoder says what is wrong.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return decodeError(err)
		}
		return keysmith.Errorf(keysmith.CodeInvalid, "request body must hold exactly one JSON object")
	}
	return nil
}

// readBody reads the request body, at most maxBody bytes (a larger one is a
// *http.MaxBytesError). A small body that states its length is read into a
// buffer of that size, once; a larger one grows as its bytes arrive, so a
// stated length costs no memory before the bytes are sent.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, maxBody)
	n := r.ContentLength
	if n <= 0 || n > maxPrealloc {
		return io.ReadAll(rd)
	}
	buf := make([]byte, 0, n+1) // +1: room to see EOF without growing
	for {
		m, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		case len(buf) == cap(buf): // longer than it said: net/http stops that, but read on
			rest, err := io.ReadAll(rd)
			return append(buf, rest...), err
		}
	}
}

// maxPrealloc is the largest stated length readBody allocates for up front.
const maxPrealloc = 16 << 10

// scanJSON walks the JSON value in body against t, the Go type it will be
// decoded into (nil: anything), and refuses a key repeated in one object, a
// key that is not one of a struct's field names (with a hint when it matches
// one in another case, which encoding/json would take), and a key or string
// that is not valid text (keysmith.CheckText). A body that is not exactly one
// valid JSON value is left to the decoder, which explains its syntax errors.
//
// It reads the bytes itself rather than with json.Decoder.Token, which costs
// several allocations per token: on a typical body this scan costs less than
// the decoding after it (BenchmarkDecode).
func scanJSON(body []byte, t reflect.Type) error {
	if !json.Valid(body) {
		return nil
	}
	return scanValidJSON(body, t)
}

// scanValidJSON is scanJSON for a body that json.Valid accepts.
func scanValidJSON(body []byte, t reflect.Type) error {
	s := scanners.Get().(*jsonScanner)
	defer scanners.Put(s)
	s.b, s.i = body, 0
	s.keys, s.path = s.keysBuf[:0], s.pathBuf[:0]
	s.space()
	err := s.value(t)
	// Let go of the body: the keys and path point into it, and so may
	// arrays they outgrew their buffers into.
	s.b = nil
	clear(s.keysBuf[:])
	clear(s.pathBuf[:])
	s.keys, s.path = nil, nil
	return err
}

// scanners are reused: a scanner is about a kilobyte, mostly room for keys.
var scanners = sync.Pool{New: func() any { return new(jsonScanner) }}

// jsonScanner is scanJSON's state over a body known to be valid JSON: the
// position, the keys of the objects being scanned (to find repeats) and the
// path to the current value (for messages).
type jsonScanner struct {
	b    []byte
	i    int
	keys [][]byte
	path []pathPart
	// Room for the keys and depth of a typical body, without allocating.
	keysBuf [32][]byte
	pathBuf [8]pathPart
}

// pathPart is one step of a path: a member key, or an array index.
type pathPart struct {
	key   []byte
	index int // for an array element, whose key is nil
}

// name is the path to the current value as messages show it: meta.x[1].a.
func (s *jsonScanner) name() string {
	var b strings.Builder
	for _, p := range s.path {
		switch {
		case p.key == nil:
			fmt.Fprintf(&b, "[%d]", p.index)
		case b.Len() > 0:
			b.WriteByte('.')
			fallthrough
		default:
			b.Write(p.key)
		}
	}
	return b.String()
}

// field names the current value: a field, or the body itself.
func (s *jsonScanner) field() string {
	if len(s.path) == 0 {
		return "the request body"
	}
	return "field " + strconv.Quote(s.name())
}

// fieldName names the key the path ends with.
func (s *jsonScanner) fieldName() string { return "field name " + strconv.Quote(s.name()) }

func (s *jsonScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// value scans the value at s.i, of Go type t, and the space after it.
func (s *jsonScanner) value(t reflect.Type) error {
	var err error
	switch s.b[s.i] {
	case '{':
		err = s.object(t)
	case '[':
		err = s.array(t)
	case '"':
		err = checkJSONText(s.str(), s.field)
	default: // a number, true, false or null
		for s.i < len(s.b) && !isJSONDelimiter(s.b[s.i]) {
			s.i++
		}
	}
	s.space()
	return err
}

func isJSONDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// str reads the string at s.i and returns it as written, quotes included.
func (s *jsonScanner) str() []byte {
	j := s.i + 1
	for ; s.b[j] != '"'; j++ {
		if s.b[j] == '\\' {
			j++
		}
	}
	quoted := s.b[s.i : j+1]
	s.i = j + 1
	return quoted
}

// checkJSONText is keysmith.CheckText for a JSON string as written (quoted),
// naming it by what. Invalid UTF-8 is looked for in the bytes as written,
// because the decoder replaces it silently; NUL can only be written as
// \u0000.
func checkJSONText(quoted []byte, what func() string) error {
	if !utf8.Valid(quoted) {
		return keysmith.CheckText(what(), string(quoted))
	}
	if bytes.Contains(quoted, []byte(`\u0000`)) {
		var v string
		json.Unmarshal(quoted, &v) // valid JSON: no error
		return keysmith.CheckText(what(), v)
	}
	return nil
}

// unquoteKey returns a member's key as the decoder sees it.
func unquoteKey(quoted []byte) []byte {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var k string
	json.Unmarshal(quoted, &k) // valid JSON: no error
	return []byte(k)
}

// array scans the elements of the array at s.i, into Go type t.
func (s *jsonScanner) array(t reflect.Type) error {
	elem := elemType(t)
	s.i++
	s.space()
	for n := 0; s.b[s.i] != ']'; n++ {
		s.path = append(s.path, pathPart{index: n})
		err := s.value(elem)
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return err
		}
		if s.b[s.i] == ',' {
			s.i++
			s.space()
		}
	}
	s.i++
	return nil
}

// object scans the members of the object at s.i, into Go type t.
func (s *jsonScanner) object(t reflect.Type) error {
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	var seen map[string]bool // for large objects, where comparing each key with all would be quadratic
	s.i++
	s.space()
	for s.b[s.i] != '}' {
		quoted := s.str()
		key := unquoteKey(quoted)
		s.path = append(s.path, pathPart{key: key})
		err := checkJSONText(quoted, s.fieldName)
		if err == nil && s.repeated(key, base, &seen) {
			err = keysmith.Errorf(keysmith.CodeInvalid, "field %q appears more than once; send each field once", s.name())
		}
		var child reflect.Type
		if err == nil {
			child, err = memberType(t, key, s.name)
		}
		if err == nil {
			s.space()
			s.i++ // the colon
			s.space()
			err = s.value(child)
		}
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return err
		}
		if s.b[s.i] == ',' {
			s.i++
			s.space()
		}
	}
	s.i++
	return nil
}

// repeated reports whether key was seen before in the object whose keys
// start at base in s.keys, and notes it.
func (s *jsonScanner) repeated(key []byte, base int, seen *map[string]bool) bool {
	if *seen != nil {
		if (*seen)[string(key)] {
			return true
		}
		(*seen)[string(key)] = true
		return false
	}
	for _, k := range s.keys[base:] {
		if bytes.Equal(k, key) {
			return true
		}
	}
	s.keys = append(s.keys, key)
	if len(s.keys)-base > 16 {
		*seen = make(map[string]bool, 2*(len(s.keys)-base))
		for _, k := range s.keys[base:] {
			(*seen)[string(k)] = true
		}
	}
	return false
}

// concrete is t without pointers, or nil when JSON decodes into t by a
// method of its own (json.RawMessage, time.Time) or into an interface: then
// any JSON is scanned, with no field names to compare.
func concrete(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	return t
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// elemType is the type of the elements of an array decoded into t.
func elemType(t reflect.Type) reflect.Type {
	if t = concrete(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		return t.Elem()
	}
	return nil
}

// memberType is the type the member key of an object decoded into t goes
// to. A key that is not one of a struct's field names is refused, with a
// hint when it matches one in another case (which encoding/json would take).
func memberType(t reflect.Type, key []byte, name func() string) (reflect.Type, error) {
	t = concrete(t)
	switch {
	case t == nil:
		return nil, nil
	case t.Kind() == reflect.Map:
		return t.Elem(), nil
	case t.Kind() != reflect.Struct:
		return nil, nil // a type error, which the decoder reports
	}
	fields := jsonFields(t)
	if ft, ok := fields[string(key)]; ok {
		return ft, nil
	}
	for f := range fields {
		if bytes.EqualFold([]byte(f), key) {
			return nil, keysmith.Errorf(keysmith.CodeInvalid, "unknown field %q; field names are case-sensitive: did you mean %q?", name(), f)
		}
	}
	return nil, keysmith.Errorf(keysmith.CodeInvalid, "unknown field %q", name())
}

// fieldCache holds jsonFields' answers by struct type.
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of a struct's fields to their types, as
// encoding/json names them: the json tag's name, else the Go name. The
// fields of an embedded struct without a json name are promoted, unless the
// outer struct has a field of the same name.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		et := concrete(f.Type)
		switch {
		case tag == "-":
		case f.Anonymous && name == "" && et != nil && et.Kind() == reflect.Struct:
			embedded = append(embedded, et)
		case !f.IsExported():
		case name == "":
			m[f.Name] = f.Type
		default:
			m[name] = f.Type
		}
	}
	for _, et := range embedded {
		for name, ft := range jsonFields(et) {
			if _, ok := m[name]; !ok {
				m[name] = ft
			}
		}
	}
	fieldCache.Store(t, m)
	return m
}

// decodeError explains a JSON decoding failure in the caller's terms.
func decodeError(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		timeErr   *time.ParseError
	)
	switch {
	case errors.As(err, &maxErr):
		return &httpError{http.StatusRequestEntityTooLarge, "request_too_large",
			fmt.Sprintf("request body is larger than %d bytes", maxBody)}
	case errors.Is(err, io.EOF):
		return keysmith.Errorf(keysmith.CodeInvalid, "request body is empty; send a JSON object")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return keysmith.Errorf(keysmith.CodeInvalid, "request body is not valid JSON")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return keysmith.Errorf(keysmith.CodeInvalid, "request body must be a JSON object")
		}
		return keysmith.Errorf(keysmith.CodeInvalid, "field %q must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &timeErr):
		return keysmith.Errorf(keysmith.CodeInvalid, "times must be RFC 3339, like 2030-01-02T15:04:05Z")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return keysmith.Errorf(keysmith.CodeInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return keysmith.Errorf(keysmith.CodeInvalid, "request body could not be read: %v", err)
}

func jsonKind(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.Contains(goType, "int") || strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.Contains(goType, "time.Time"):
		return "an RFC 3339 time string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// checkURLText refuses NUL and invalid UTF-8 in the URL: in each path value
// of the route (named as the route's pattern names it), in the rest of the
// path, and in the names and values of the query parameters. Handlers read
// them with r.PathValue and r.URL.Query as before, after this check.
func checkURLText(r *http.Request) error {
	for _, name := range wildcards(r.Pattern) {
		if err := keysmith.CheckText("path value "+strconv.Quote(name), r.PathValue(name)); err != nil {
			return err
		}
	}
	if err := keysmith.CheckText("the URL path", r.URL.Path); err != nil {
		return err
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for k, vs := range r.URL.Query() {
		if err := keysmith.CheckText("a query parameter name", k); err != nil {
			return err
		}
		for _, v := range vs {
			if err := keysmith.CheckText("query parameter "+strconv.Quote(k), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// wildcards lists the names of a ServeMux pattern's wildcards:
// "GET /v1/groups/{id}/members/{user_id}" has id and user_id.
func wildcards(pattern string) []string {
	var names []string
	for {
		_, rest, ok := strings.Cut(pattern, "{")
		if !ok {
			return names
		}
		name, after, _ := strings.Cut(rest, "}")
		if name = strings.TrimSuffix(name, "..."); name != "$" {
			names = append(names, name)
		}
		pattern = after
	}
}

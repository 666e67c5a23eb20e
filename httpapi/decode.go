package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

// maxBody is the largest request body any endpoint accepts.
const maxBody = 1 << 20

// decode reads a JSON request body into v strictly: the media type must be
// JSON (or absent), the body at most 1 MiB, one object, no unknown fields, and
// every field of the right type. Each failure says what was wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("Content-Type %q is not supported; send a JSON body with Content-Type: application/json", ct)}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
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

// pageParams reads ?limit= and ?cursor=.
func pageParams(r *http.Request) (limit int, cursor string, err error) {
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > keysmith.MaxPageSize {
			return 0, "", keysmith.Errorf(keysmith.CodeInvalid, "limit must be a whole number from 1 to %d", keysmith.MaxPageSize)
		}
		limit = n
	}
	return limit, r.URL.Query().Get("cursor"), nil
}

package keysmith

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error so that every transport can answer it the same way.
// The HTTP layer maps each code to one status; anything without a code is a 500.
type Code string

// The error codes. Keep this list short: a caller acts on the code, and reads
// the message.
const (
	CodeInvalid      Code = "invalid"
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeRateLimited  Code = "rate_limited"
	CodeInternal     Code = "internal"
	// CodeUpstream: an external key manager failed or refused what
	// Keysmith asked of it; the message says what it answered.
	CodeUpstream Code = "upstream"
)

// Error is the one error type of the domain. Message is safe to show to the
// caller; the wrapped cause (if any) is for logs only.
type Error struct {
	Code    Code
	Message string
	Err     error
	// RetryAfter is how long a CodeRateLimited caller should wait (0 if
	// unknown); HTTP answers it as Retry-After.
	RetryAfter time.Duration
	// Reason, when set, is a more precise name of the error than its code's,
	// in RFC 6749's words (for example "invalid_scope" for a CodeInvalid);
	// HTTP answers it as "error".
	Reason string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, CodeInternal when err carries none, and
// "" for a nil error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the message of err that is safe to show, or a generic
// one for errors without a code: their text may hold internals.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	return "An internal error occurred. It has been logged."
}

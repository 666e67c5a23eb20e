package keysmith_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
)

const genericMessage = "An internal error occurred. It has been logged."

func TestErrorCodeAndMessage(t *testing.T) {
	cause := errors.New(`dial tcp 10.0.0.7:5432: connection refused`)
	notFound := keysmith.Errorf(keysmith.CodeNotFound, "token %q not found", "tok_1")
	tests := []struct {
		name     string
		err      error
		wantCode keysmith.Code
		wantMsg  string
	}{
		{"Nil", nil, "", genericMessage},
		{"DomainError", notFound, keysmith.CodeNotFound, `token "tok_1" not found`},
		{"WrappedDomainError", fmt.Errorf("find: %w", notFound), keysmith.CodeNotFound, `token "tok_1" not found`},
		{"DomainErrorWithCause", &keysmith.Error{Code: keysmith.CodeConflict, Message: "already exists", Err: cause}, keysmith.CodeConflict, "already exists"},
		{"PlainError", cause, keysmith.CodeInternal, genericMessage},
		{"ContextCanceled", context.Canceled, keysmith.CodeInternal, genericMessage},
		// An internal error's message is not shown even when it has one.
		{"InternalDomainError", &keysmith.Error{Code: keysmith.CodeInternal, Message: "pool exhausted at 10.0.0.7"}, keysmith.CodeInternal, genericMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keysmith.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode() = %q, want %q", got, tt.wantCode)
			}
			if got := keysmith.ErrorMessage(tt.err); got != tt.wantMsg {
				t.Errorf("ErrorMessage() = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

func TestErrorKeepsItsCauseForLogs(t *testing.T) {
	cause := errors.New("disk full")
	err := error(&keysmith.Error{Code: keysmith.CodeInternal, Message: "could not save", Err: cause})
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(err, cause) = false, want true")
	}
	if got := err.Error(); !strings.Contains(got, "disk full") || !strings.Contains(got, "could not save") {
		t.Errorf("Error() = %q, want message and cause", got)
	}
	if got, want := keysmith.Errorf(keysmith.CodeInvalid, "limit must be %d", 5).Error(), "invalid: limit must be 5"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

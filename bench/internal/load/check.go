package load

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
)

// CheckOK accepts any 200 response.
func CheckOK(status int, body []byte) error {
	if status != http.StatusOK {
		return StatusError(status, body)
	}
	return nil
}

// CheckBodyContains accepts a 200 response whose body contains want.
func CheckBodyContains(want string) func(int, []byte) error {
	w := []byte(want)
	return func(status int, body []byte) error {
		if status != http.StatusOK {
			return StatusError(status, body)
		}
		if !bytes.Contains(body, w) {
			return fmt.Errorf("status 200 without %s in the body: %s", want, Clip(body))
		}
		return nil
	}
}

// StatusError describes an unexpected status. The body is included, clipped,
// because Keysmith's error bodies say what was wrong.
func StatusError(status int, body []byte) error {
	return fmt.Errorf("status %d: %s", status, Clip(body))
}

// Clip shortens a response body for an error message.
func Clip(body []byte) string {
	const max = 200
	s := strings.TrimSpace(string(body))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

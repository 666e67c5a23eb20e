package keysmith_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keysmith/keysmith"
)

// holder is how a Secret usually travels: in an exported field of a struct.
type holder struct {
	Name   string
	Secret keysmith.Secret
}

// hidden holds a Secret in an unexported field, where fmt cannot call the
// Secret's methods and prints it by reflection.
type hidden struct {
	name   string
	secret keysmith.Secret
}

func TestSecretNeverPrintsItself(t *testing.T) {
	secret, _ := keysmith.NewAPITokenSecret()
	plain := secret.Reveal()
	if !strings.HasPrefix(plain, keysmith.TokenPrefix) {
		t.Fatalf("Reveal() = %q, want the token itself", plain)
	}
	// The part of the token after the prefix must not appear in any output.
	leaked := func(out string) bool { return strings.Contains(out, plain[len(keysmith.TokenPrefix):]) }

	values := []struct {
		name  string
		value any
	}{
		{"Secret", secret},
		{"*Secret", &secret},
		{"struct with exported Secret", holder{"n", secret}},
		{"pointer to struct with exported Secret", &holder{"n", secret}},
		{"struct with unexported Secret", hidden{"n", secret}},
		{"slice of Secret", []keysmith.Secret{secret}},
		{"map of Secret", map[string]keysmith.Secret{"k": secret}},
	}
	verbs := []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%t", "%p", "%c", "%U", "%10.3v", "%T"}
	for _, v := range values {
		for _, verb := range verbs {
			if out := fmt.Sprintf(verb, v.value); leaked(out) {
				t.Errorf("fmt %s of %s leaks the secret: %s", verb, v.name, out)
			}
		}
		if out := fmt.Sprint(v.value) + fmt.Sprintln(v.value); leaked(out) {
			t.Errorf("fmt.Sprint of %s leaks the secret: %s", v.name, out)
		}
	}

	t.Run("slog", func(t *testing.T) {
		for _, h := range []struct {
			name string
			new  func(*bytes.Buffer) slog.Handler
		}{
			{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
			{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		} {
			var buf bytes.Buffer
			log := slog.New(h.new(&buf))
			for _, v := range values {
				log.Info("created", "value", v.value)
			}
			log.Info("created", slog.Any("secret", secret), slog.Group("g", "secret", secret))
			log.With("secret", secret).Info("created")
			if leaked(buf.String()) {
				t.Errorf("slog %s handler leaks the secret:\n%s", h.name, buf.String())
			}
			if !strings.Contains(buf.String(), "[REDACTED]") {
				t.Errorf("slog %s handler output has no placeholder:\n%s", h.name, buf.String())
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		// Secret has no exported fields and no MarshalJSON: encoding/json
		// writes {} for it. The test pins that, so a field made exported or
		// a MarshalJSON added later cannot put secrets into JSON by accident.
		for _, v := range values {
			b, err := json.Marshal(v.value)
			if err != nil {
				t.Fatalf("json.Marshal(%s): %v", v.name, err)
			}
			if leaked(string(b)) {
				t.Errorf("json.Marshal of %s leaks the secret: %s", v.name, b)
			}
		}
		b, _ := json.Marshal(holder{"n", secret})
		if got, want := string(b), `{"Name":"n","Secret":{}}`; got != want {
			t.Errorf("json.Marshal(holder) = %s, want %s", got, want)
		}
	})

	t.Run("ZeroValueRevealsEmpty", func(t *testing.T) {
		var zero keysmith.Secret
		if got := zero.Reveal(); got != "" {
			t.Errorf("Secret{}.Reveal() = %q, want empty", got)
		}
		if got := keysmith.NewSecret("x").Reveal(); got != "x" {
			t.Errorf("NewSecret(%q).Reveal() = %q", "x", got)
		}
	})
}

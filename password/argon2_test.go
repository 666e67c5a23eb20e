package password_test

import (
	"strings"
	"testing"

	"github.com/keysmith/keysmith/password"
)

func TestHasher(t *testing.T) {
	h := password.New(password.Fast)
	enc, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(enc, "correct horse") {
		t.Errorf("encoded = %q", enc)
	}
	if again, _ := h.Hash("correct horse"); again == enc {
		t.Errorf("two hashes of one password are equal: salts are not random")
	}
	for _, c := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horsE", false}, {"", false}} {
		if ok, err := h.Verify(c.pw, enc); err != nil || ok != c.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", c.pw, ok, err, c.want)
		}
	}

	t.Run("ParametersTravelWithTheHash", func(t *testing.T) {
		stronger := password.New(password.Params{Time: 2, MemoryKiB: 128, Threads: 1})
		if ok, err := stronger.Verify("correct horse", enc); err != nil || !ok {
			t.Errorf("a hasher with other parameters cannot verify an older hash: %v, %v", ok, err)
		}
	})

	t.Run("MalformedHashesAreErrors", func(t *testing.T) {
		for _, bad := range []string{"", "plaintext", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
			"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
			"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA"} {
			if ok, err := h.Verify("x", bad); err == nil || ok {
				t.Errorf("Verify(%q) = %v, %v; want an error", bad, ok, err)
			}
		}
	})
}

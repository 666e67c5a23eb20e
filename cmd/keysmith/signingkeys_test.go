package main_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/storetest"
)

func TestSigningKeysRotate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	for range 2 {
		out, err := exec.Command(bin, "signing-keys", "rotate", "--db", db, "--alg", "EdDSA", "--json").CombinedOutput()
		if err != nil {
			t.Fatalf("rotate: %v\n%s", err, out)
		}
	}
	out, err := exec.Command(bin, "signing-keys", "list", "--db", db, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var keys []struct {
		KID       string  `json:"kid"`
		Algorithm string  `json:"algorithm"`
		RetiredAt *string `json:"retired_at"`
	}
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// The first key made on open, then two rotations; only the newest signs.
	if len(keys) != 3 || keys[0].Algorithm != "EdDSA" || keys[0].RetiredAt != nil || keys[1].RetiredAt == nil {
		t.Errorf("keys after two rotations: %s", out)
	}
}

func TestServeOnPostgresNeedsTheMasterKey(t *testing.T) {
	dsn := storetest.Postgres(t)
	cmd := exec.Command(bin, "serve", "--db", dsn, "--addr", freeAddr(t))
	cmd.Env = append(cmd.Environ(), "KEYSMITH_MASTER_KEY=")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "KEYSMITH_MASTER_KEY is required with PostgreSQL") {
		t.Errorf("serve on PostgreSQL without a master key: %v\n%s", err, out)
	}
}

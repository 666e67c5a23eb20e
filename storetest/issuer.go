package storetest

import (
	"fmt"
	"testing"
)

// testConcurrentFirstStartsAgreeOnOneIssuer: replicas starting together on
// an empty database each offer their own address; all must end up with the
// same issuer, or their access tokens are not accepted by each other.
func testConcurrentFirstStartsAgreeOnOneIssuer(t *testing.T, fx *fixture) {
	if iss, err := fx.db.Issuer(fx.ctx); err != nil || iss != "" {
		t.Fatalf("Issuer of an empty database: %q, %v; want none", iss, err)
	}
	const n = 8
	got := make([]string, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], errs[i] = fx.db.InitIssuer(fx.ctx, fmt.Sprintf("http://10.0.0.%d:8080", i))
	})
	for i := range n {
		if errs[i] != nil || got[i] != got[0] || got[i] == "" {
			t.Errorf("InitIssuer %d: %q, %v; want the same issuer as InitIssuer 0, %q", i, got[i], errs[i], got[0])
		}
	}
	previous, err := fx.db.SetIssuer(fx.ctx, "https://keysmith.example")
	if err != nil || previous != got[0] {
		t.Errorf("SetIssuer: replaced %q, %v; want %q", previous, err, got[0])
	}
	if iss, err := fx.db.InitIssuer(fx.ctx, "http://10.0.0.99:8080"); err != nil || iss != "https://keysmith.example" {
		t.Errorf("InitIssuer after SetIssuer: %q, %v; want the set one", iss, err)
	}
}

// Package keysmith is the domain of Keysmith, the credential authority for an API:
// the types (tokens, users, events), the rules over them (validation, status
// derivation, permissions), the error type, and the interfaces that the storage
// and transport adapters implement. It imports nothing of ours and no drivers,
// so every rule can be read and tested without a database or a network.
package keysmith

import "time"

// Clock tells the time. Every expiry rule takes its time from a Clock, so tests
// drive time forward instead of sleeping.
type Clock func() time.Time

// SystemClock is the wall clock, truncated to microseconds because that is the
// precision both storage engines keep.
func SystemClock() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Package password hashes passwords with argon2id (RFC 9106), the one
// outside dependency (golang.org/x/crypto/argon2) kept in its own package.
// Hashes are PHC strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash) that carry
// their parameters, so changing the parameters later does not break the
// passwords stored before.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/keysmith/keysmith"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8
}

// Default is OWASP's recommended argon2id setting (19 MiB, 2 passes, 1
// thread): about 20–40 ms per hash on one core of a current server.
var Default = Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// Fast is for tests only: it keeps the format and the code path, not the
// strength.
var Fast = Params{Time: 1, MemoryKiB: 64, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and checks passwords. At most Slots hashes run at once:
// one fewer than GOMAXPROCS (at least one), so that a burst of sign-ins
// queues instead of exhausting memory and leaves a core for verify, whose
// latency is the product. A hash that cannot start within MaxWait fails with
// keysmith.CodeRateLimited.
type Hasher struct {
	// MaxWait is how long a hash waits for a slot; default DefaultMaxWait.
	MaxWait time.Duration

	p   Params
	sem chan struct{}
}

// DefaultMaxWait is how long a hash waits for a free slot by default: a few
// hashes' time, so that a short burst queues and a flood is refused.
const DefaultMaxWait = time.Second

// errBusy answers a hash that found no slot in time.
var errBusy = &keysmith.Error{Code: keysmith.CodeRateLimited, RetryAfter: time.Second,
	Message: "too many passwords are being checked at once; retry in a second"}

var _ keysmith.PasswordHasher = (*Hasher)(nil)

// New returns a Hasher with p (zero fields take Default's).
func New(p Params) *Hasher {
	if p.Time == 0 {
		p.Time = Default.Time
	}
	if p.MemoryKiB == 0 {
		p.MemoryKiB = Default.MemoryKiB
	}
	if p.Threads == 0 {
		p.Threads = Default.Threads
	}
	return &Hasher{p: p, sem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))}
}

// Slots is how many hashes may run at once.
func (h *Hasher) Slots() int { return cap(h.sem) }

// Acquire takes a hashing slot, waiting at most MaxWait, and returns the
// function that gives it back. Hash and Verify call it; so may a caller that
// must keep the hasher busy (a test of the refusal, a maintenance job).
func (h *Hasher) Acquire() (release func(), err error) {
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	default:
	}
	wait := h.MaxWait
	if wait <= 0 {
		wait = DefaultMaxWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-t.C:
		return nil, errBusy
	}
}

func (h *Hasher) key(password string, salt []byte, p Params, n uint32) ([]byte, error) {
	release, err := h.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	return argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, n), nil
}

// Hash returns the PHC string of password with a fresh random salt; it
// fails with keysmith.CodeRateLimited when no slot frees within MaxWait.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key, err := h.key(password, salt, h.p, keyLen)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.p.MemoryKiB, h.p.Time, h.p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC string encoded, comparing
// in constant time. A malformed encoding is an error, and so is finding no
// slot within MaxWait (keysmith.CodeRateLimited).
func (h *Hasher) Verify(password, encoded string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.key(password, salt, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func decode(s string) (Params, []byte, []byte, error) {
	bad := fmt.Errorf("stored password hash is not an argon2id PHC string")
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, bad
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, bad
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		p.Time == 0 || p.MemoryKiB == 0 || p.Threads == 0 {
		return Params{}, nil, nil, bad
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return Params{}, nil, nil, bad
	}
	return p, salt, key, nil
}

package client

// CacheLen is the number of answers v's cache holds, for tests.
func (v *Verifier) CacheLen() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}

// SetFlightWaitHook makes f run whenever a request starts waiting for an
// identical request's call, until the test ends.
func SetFlightWaitHook(t interface{ Cleanup(func()) }, f func()) {
	testHookFlightWait = f
	t.Cleanup(func() { testHookFlightWait = nil })
}

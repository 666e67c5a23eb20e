package client

// CacheLen is the number of answers v's cache holds, for tests.
func (v *Verifier) CacheLen() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}

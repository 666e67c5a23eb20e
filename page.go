package keysmith

// Page is the paging every list takes: how many items at most, and where the
// previous page ended. Every list's filter embeds it.
type Page struct {
	Limit  int    // 1..MaxPageSize; 0 means DefaultPageSize
	Cursor string // opaque, from the previous page; "" for the first
}

// Validate checks the limit: 0 (the default) or 1..MaxPageSize. The cursor is
// checked by the store that made it.
func (p Page) Validate() error {
	if p.Limit < 0 || p.Limit > MaxPageSize {
		return Errorf(CodeInvalid, "limit must be a whole number from 1 to %d", MaxPageSize)
	}
	return nil
}

package store

// Origin returns the origin db's notices carry (PostgreSQL only).
func Origin(db *DB) string { return db.dialect.(*postgresDialect).origin }

// FailedCommit numbers a transaction as db.write does, registers its commit
// as failed, and returns its number.
func FailedCommit(db *DB) uint64 {
	n := db.txns.Add(1)
	db.failed.add(n)
	return n
}

// ExpiryCandidatesQueries returns the expiry sweep's candidate statements,
// one per pass: absolute expiry, then idle expiry.
func ExpiryCandidatesQueries() []string {
	var qs []string
	for _, due := range expiryDues {
		qs = append(qs, expiryCandidatesQuery(due))
	}
	return qs
}

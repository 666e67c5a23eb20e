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

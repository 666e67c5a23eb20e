-- The expiry sweep finds due tokens through these indexes, in small batches,
-- instead of scanning every token under the write lock. Only tokens whose
-- expiry may still be recorded are indexed: once revoked or recorded a token
-- leaves them, so they hold the tokens that are live or due, not the history.
-- The expressions are the sweep's (expiryDues in store/expiry.go) word for
-- word, so that both engines match them.

-- When each token expires unless used: idleDeadlineExpr in store/tokens_list.go.
CREATE INDEX tokens_idle_due ON tokens ((COALESCE(last_used_at, created_at) + idle_ttl), id)
    WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL;
-- When each token with an absolute expiry expires.
CREATE INDEX tokens_absolute_due ON tokens (expires_at, id)
    WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL;

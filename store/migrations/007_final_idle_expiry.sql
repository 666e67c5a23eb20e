-- A recorded expiry is final from now on (see RecordTokenUses). Before, a
-- use flushed late could renew a token whose expiry was already recorded;
-- such a token is in use, so its mark is cleared rather than ending it now,
-- and the sweep records its real expiry when it comes.
UPDATE tokens SET expiry_recorded_at = NULL
    WHERE expiry_recorded_at IS NOT NULL AND revoked_at IS NULL
    AND (expires_at IS NULL OR expires_at > expiry_recorded_at)
    AND COALESCE(last_used_at, created_at) + idle_ttl > expiry_recorded_at;

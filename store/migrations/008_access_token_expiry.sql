-- Expired access tokens are deleted by the periodic sweep, found by expiry.
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens (expires_at);

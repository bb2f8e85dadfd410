-- Migration 6: what a token list may show of a token without its secret (Gitea's
-- `token_last_eight`). Older tokens have none; only their hash was ever stored.
ALTER TABLE tokens ADD COLUMN last_eight TEXT;
CREATE INDEX tokens_by_user ON tokens(user_id);

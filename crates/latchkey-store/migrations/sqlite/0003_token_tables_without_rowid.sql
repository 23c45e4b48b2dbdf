-- Token tables keyed by their token key itself (WITHOUT ROWID,
-- https://sqlite.org/withoutrowid.html): a row lives in the primary-key B-tree, so a
-- look-up by key descends one B-tree instead of the key's index and then the table by
-- rowid, and an insert writes one B-tree fewer. Keys sort by issue time
-- (latchkey_core::secret::token_key), so inserts append to that tree.

CREATE TABLE access_tokens_keyed (
    token_hash  BLOB PRIMARY KEY,
    jti         TEXT NOT NULL,
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,              -- JSON array
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    jwt         BIGINT NOT NULL DEFAULT 0,
    username    TEXT
) WITHOUT ROWID;
INSERT INTO access_tokens_keyed (token_hash, jti, grant_id, client_id, subject, scope, audience, issued_at,
    expires_at, revoked_at, jwt, username)
    SELECT token_hash, jti, grant_id, client_id, subject, scope, audience, issued_at, expires_at, revoked_at, jwt,
        username FROM access_tokens;
DROP TABLE access_tokens;
ALTER TABLE access_tokens_keyed RENAME TO access_tokens;
CREATE INDEX access_tokens_client_id ON access_tokens (client_id);
CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE refresh_tokens_keyed (
    token_hash  BLOB PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,                      -- set when rotated; a second use is replay
    revoked_at  BIGINT
) WITHOUT ROWID;
INSERT INTO refresh_tokens_keyed (token_hash, grant_id, client_id, scope, issued_at, expires_at, used_at, revoked_at)
    SELECT token_hash, grant_id, client_id, scope, issued_at, expires_at, used_at, revoked_at FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_keyed RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

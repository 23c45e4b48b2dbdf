-- Users, sessions, authorization requests and codes, consents, grants and refresh tokens.
-- Same shape in the PostgreSQL twin (BLOB there is BYTEA). Secrets are stored hashed:
-- passwords as argon2id PHC strings, session ids, codes and refresh tokens as SHA-256.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,          -- the opaque, stable `sub`
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,             -- argon2id PHC string
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash          BLOB PRIMARY KEY,
    user_id          TEXT,
    authenticated_at BIGINT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- A validated /authorize request waiting for login or consent.
CREATE TABLE auth_requests (
    id_hash        BLOB PRIMARY KEY,
    session_hash   BLOB NOT NULL,
    csrf_hash      BLOB NOT NULL,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    redirect_given BIGINT NOT NULL,
    scope          TEXT NOT NULL,
    state          TEXT,
    code_challenge TEXT,
    resources      TEXT NOT NULL,            -- JSON array
    prompt         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT
);
CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

CREATE TABLE authorization_codes (
    code_hash      BLOB PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT,                     -- NULL when none was sent to /authorize
    scope          TEXT NOT NULL,
    resources      TEXT NOT NULL,            -- JSON array
    code_challenge TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

CREATE TABLE consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- A grant: one authorization (code or password) and the token family it produced.
CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    resources  TEXT NOT NULL,                -- JSON array
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,              -- absolute lifetime of the refresh family
    revoked_at BIGINT
);
CREATE INDEX grants_user_client ON grants (user_id, client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);

CREATE TABLE refresh_tokens (
    token_hash  BLOB PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,                      -- set when rotated; a second use is replay
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- Access tokens issued under a grant are recorded in both formats (a JWT by its jti)
-- so that revoking the grant can revoke them; jwt = 1 marks JWT bookkeeping rows.
ALTER TABLE access_tokens ADD COLUMN jwt BIGINT NOT NULL DEFAULT 0;
ALTER TABLE access_tokens ADD COLUMN username TEXT;

-- Registration fields for the authorization code flow.
ALTER TABLE clients ADD COLUMN name TEXT;
ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';   -- JSON array
ALTER TABLE clients ADD COLUMN skip_consent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN require_pkce BIGINT NOT NULL DEFAULT 1;

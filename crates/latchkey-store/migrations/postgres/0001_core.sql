-- Portable types only (TEXT, BIGINT epoch seconds, BYTEA): the SQLite twin of this file
-- has the same name and shape. Secrets are never stored: *_hash and *_sealed only.

CREATE TABLE clients (
    id               TEXT PRIMARY KEY,
    secret_hash      BYTEA NOT NULL,
    grant_types      TEXT NOT NULL,          -- space-delimited
    scopes           TEXT NOT NULL,          -- space-delimited
    auth_method      TEXT NOT NULL,
    token_format     TEXT,
    audiences        TEXT NOT NULL,          -- JSON array
    introspect       BIGINT NOT NULL,
    access_token_ttl BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- Opaque access tokens, looked up by the SHA-256 of the token.
CREATE TABLE access_tokens (
    token_hash  BYTEA PRIMARY KEY,
    jti         TEXT NOT NULL,
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,              -- JSON array
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX access_tokens_client_id ON access_tokens (client_id);
CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- Revoked JWTs, remembered by jti until they would have expired anyway.
CREATE TABLE revoked_jtis (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at);

-- Signing keys; the private key is sealed (AES-256-GCM) under a system secret.
CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    private_key_sealed BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    retired_at         BIGINT
);

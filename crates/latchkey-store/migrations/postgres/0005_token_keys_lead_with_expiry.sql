-- Opaque access and refresh tokens are now keyed by when they expire
-- (latchkey_core::secret::new_expiring_token): the janitor deletes the expired ones as a
-- range at the start of the primary key, so these tables need no index on expires_at.
-- A deleted client's tokens are no longer deleted with it (they are inert: a token is
-- live only while its client exists and existed when it was issued) and go at expiry,
-- so nothing needs the client_id index either. Each was one more B-tree insert and one
-- more dirty page per token issued.
--
-- Rows written before keep their keys: those keyed by issue time fall in the janitor's
-- range and go once expired; those keyed by the token's hash alone (before keyed
-- tokens) are no longer found by it.
DROP INDEX access_tokens_client_id;
DROP INDEX access_tokens_expires_at;
DROP INDEX refresh_tokens_expires_at;

-- Revoking a token family now marks its grant alone: every read of a token checks its
-- grant (refresh tokens by join and in the rotation's compare-and-set, opaque access
-- tokens by join, a user's JWT by its grant_id claim). Nothing looks tokens up by grant
-- any more, and these two indexes took a random page per rotation each, most of what a
-- rotation's commit wrote.
--
-- The check needs a grant to outlive its tokens. Access tokens issued by a refresh
-- before this version could outlive their grant (since then they end with it), so a
-- grant's expiry is raised to its latest access token's, through the index about to go.
UPDATE grants SET expires_at = (SELECT MAX(a.expires_at) FROM access_tokens a WHERE a.grant_id = grants.id)
    WHERE expires_at < (SELECT MAX(a.expires_at) FROM access_tokens a WHERE a.grant_id = grants.id);
DROP INDEX access_tokens_grant_id;
DROP INDEX refresh_tokens_grant_id;

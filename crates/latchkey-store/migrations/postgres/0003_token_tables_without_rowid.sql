-- SQLite's 0003 rebuilds the token tables WITHOUT ROWID (clustered on the token key).
-- PostgreSQL tables have no rowid and their primary-key look-ups already go through one
-- index: nothing to change. Kept so both backends share one migration history.
SELECT 1;

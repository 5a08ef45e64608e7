-- +goose Up
-- The warm pool: runtimes started ahead of any sandbox (one row each). The
-- ids of the sandbox, session and managed locker an entry becomes are
-- reserved at insert, so its containers and volume carry them from the
-- start; a claim deletes the row in the transaction that creates those
-- rows. containers is a JSON list of the entry's containers as recorded
-- so far. profile_key fingerprints the profile the entry was started with.
CREATE TABLE pool_entries (
    id            TEXT PRIMARY KEY,
    profile_id    TEXT NOT NULL,
    profile_key   TEXT NOT NULL,
    sandbox_id    TEXT NOT NULL UNIQUE,
    session_id    TEXT NOT NULL UNIQUE,
    locker_id     TEXT NOT NULL UNIQUE,
    runtime_token TEXT NOT NULL,
    containers    TEXT NOT NULL,
    state         TEXT NOT NULL,
    instance_id   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX pool_entries_claim ON pool_entries (profile_id, profile_key, state, created_at);

-- +goose Down
DROP TABLE pool_entries;

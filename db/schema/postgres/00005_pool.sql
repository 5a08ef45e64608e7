-- +goose Up
-- The warm pool: runtimes started ahead of any sandbox (one row each). The
-- ids of the sandbox, session and managed locker an entry becomes are
-- reserved at insert, so its containers and volume carry them from the
-- start; a claim deletes the row in the transaction that creates those
-- rows. containers is a JSON list of the entry's containers as recorded
-- so far. profile_key fingerprints the profile the entry was started with.
CREATE TABLE pool_entries (
    id            text PRIMARY KEY,
    profile_id    text NOT NULL,
    profile_key   text NOT NULL,
    sandbox_id    text NOT NULL UNIQUE,
    session_id    text NOT NULL UNIQUE,
    locker_id     text NOT NULL UNIQUE,
    runtime_token text NOT NULL,
    containers    text NOT NULL,
    state         text NOT NULL,
    instance_id   text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX pool_entries_claim ON pool_entries (profile_id, profile_key, state, created_at);

-- +goose Down
DROP TABLE pool_entries;

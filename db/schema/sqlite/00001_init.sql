-- +goose Up
-- Times are TEXT in one fixed-width UTC format with six fractional digits
-- (2006-01-02T15:04:05.000000Z), so that string order is time order and the
-- adapter, not SQLite's date functions, decides their meaning.
CREATE TABLE lockers (
    id                    TEXT PRIMARY KEY,
    owner                 TEXT NOT NULL,
    backend               TEXT NOT NULL,
    driver_ref            TEXT NOT NULL,
    managed               BOOLEAN NOT NULL,
    managed_by_sandbox_id TEXT,
    size_limit_mb         INTEGER NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    last_accessed_at      TEXT NOT NULL
);
CREATE INDEX lockers_owner_managed_id ON lockers (owner, managed, id);
CREATE INDEX lockers_managed_by_sandbox_id ON lockers (managed_by_sandbox_id);

CREATE TABLE sandboxes (
    id                 TEXT PRIMARY KEY,
    owner              TEXT NOT NULL,
    profile_id         TEXT NOT NULL,
    locker_id          TEXT REFERENCES lockers (id) ON DELETE SET NULL,
    current_session_id TEXT,
    expires_at         TEXT,
    idle_expires_at    TEXT,
    deleted_at         TEXT,
    stop_reason        TEXT NOT NULL DEFAULT '',
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    last_active_at     TEXT NOT NULL
);
CREATE INDEX sandboxes_owner_id ON sandboxes (owner, id);
CREATE INDEX sandboxes_locker_id ON sandboxes (locker_id);
CREATE INDEX sandboxes_current_session_id ON sandboxes (current_session_id);
CREATE INDEX sandboxes_deleted_at ON sandboxes (deleted_at);
CREATE INDEX sandboxes_idle_expires_at ON sandboxes (idle_expires_at);
CREATE INDEX sandboxes_expires_at ON sandboxes (expires_at);

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    sandbox_id       TEXT NOT NULL REFERENCES sandboxes (id),
    runtime_type     TEXT NOT NULL,
    profile_id       TEXT NOT NULL,
    container_id     TEXT,
    endpoint         TEXT,
    desired_state    TEXT NOT NULL,
    observed_state   TEXT NOT NULL,
    last_observed_at TEXT,
    claimed_by       TEXT,
    claimed_at       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    last_active_at   TEXT NOT NULL
);
CREATE INDEX sessions_sandbox_id ON sessions (sandbox_id);
CREATE INDEX sessions_observed_state ON sessions (observed_state);
-- At most one active session per sandbox, whichever process inserts it.
CREATE UNIQUE INDEX sessions_one_active_per_sandbox ON sessions (sandbox_id) WHERE desired_state = 'running';

CREATE TABLE idempotency_keys (
    owner               TEXT NOT NULL,
    key                 TEXT NOT NULL,
    request_fingerprint TEXT NOT NULL,
    response_snapshot   BLOB NOT NULL,
    status_code         INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE sessions;
DROP TABLE sandboxes;
DROP TABLE lockers;

-- +goose Up
CREATE TABLE lockers (
    id                    text PRIMARY KEY,
    owner                 text NOT NULL,
    backend               text NOT NULL,
    driver_ref            text NOT NULL,
    managed               boolean NOT NULL,
    managed_by_sandbox_id text,
    size_limit_mb         bigint NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    last_accessed_at      timestamptz NOT NULL
);
CREATE INDEX lockers_owner_managed_id ON lockers (owner, managed, id);
CREATE INDEX lockers_managed_by_sandbox_id ON lockers (managed_by_sandbox_id);

CREATE TABLE sandboxes (
    id                 text PRIMARY KEY,
    owner              text NOT NULL,
    profile_id         text NOT NULL,
    locker_id          text REFERENCES lockers (id) ON DELETE SET NULL,
    current_session_id text,
    expires_at         timestamptz,
    idle_expires_at    timestamptz,
    deleted_at         timestamptz,
    stop_reason        text NOT NULL DEFAULT '',
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    last_active_at     timestamptz NOT NULL
);
CREATE INDEX sandboxes_owner_id ON sandboxes (owner, id);
CREATE INDEX sandboxes_locker_id ON sandboxes (locker_id);
CREATE INDEX sandboxes_current_session_id ON sandboxes (current_session_id);
CREATE INDEX sandboxes_deleted_at ON sandboxes (deleted_at);
CREATE INDEX sandboxes_idle_expires_at ON sandboxes (idle_expires_at);
CREATE INDEX sandboxes_expires_at ON sandboxes (expires_at);

CREATE TABLE sessions (
    id               text PRIMARY KEY,
    sandbox_id       text NOT NULL REFERENCES sandboxes (id),
    runtime_type     text NOT NULL,
    profile_id       text NOT NULL,
    container_id     text,
    endpoint         text,
    desired_state    text NOT NULL,
    observed_state   text NOT NULL,
    last_observed_at timestamptz,
    claimed_by       text,
    claimed_at       timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_active_at   timestamptz NOT NULL
);
CREATE INDEX sessions_sandbox_id ON sessions (sandbox_id);
CREATE INDEX sessions_observed_state ON sessions (observed_state);
-- At most one active session per sandbox, whichever Bay instance inserts it.
CREATE UNIQUE INDEX sessions_one_active_per_sandbox ON sessions (sandbox_id) WHERE desired_state = 'running';

CREATE TABLE idempotency_keys (
    owner               text NOT NULL,
    key                 text NOT NULL,
    request_fingerprint text NOT NULL,
    response_snapshot   bytea NOT NULL,
    status_code         integer NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE sessions;
DROP TABLE sandboxes;
DROP TABLE lockers;

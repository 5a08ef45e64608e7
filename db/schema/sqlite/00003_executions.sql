-- +goose Up
-- One row per python or shell execution through Bay (agent-reach.md §1.5).
-- Times are TEXT in the fixed-width UTC format of 00001. tags is ",a,b,"
-- (sorted, '' when none) so that an exact tag is a substring match on
-- ",tag,"; images is a JSON array of base64 PNGs, NULL when none.
CREATE TABLE executions (
    id                TEXT PRIMARY KEY,
    sandbox_id        TEXT NOT NULL REFERENCES sandboxes (id),
    owner             TEXT NOT NULL,
    kind              TEXT NOT NULL,
    mode              TEXT NOT NULL,
    status            TEXT NOT NULL,
    instance_id       TEXT NOT NULL,
    cwd               TEXT,
    timeout_s         INTEGER NOT NULL,
    code              TEXT NOT NULL,
    code_bytes        INTEGER NOT NULL,
    code_truncated    BOOLEAN NOT NULL,
    success           BOOLEAN,
    exit_code         INTEGER,
    execution_count   INTEGER,
    kernel_restarted  BOOLEAN NOT NULL DEFAULT FALSE,
    output            TEXT NOT NULL DEFAULT '',
    output_bytes      INTEGER NOT NULL DEFAULT 0,
    output_truncated  BOOLEAN NOT NULL DEFAULT FALSE,
    error             TEXT,
    error_truncated   BOOLEAN NOT NULL DEFAULT FALSE,
    error_code        TEXT,
    images            TEXT,
    image_count       INTEGER NOT NULL DEFAULT 0,
    images_truncated  BOOLEAN NOT NULL DEFAULT FALSE,
    description       TEXT,
    tags              TEXT NOT NULL DEFAULT '',
    notes             TEXT,
    created_at        TEXT NOT NULL,
    finished_at       TEXT,
    execution_time_ms INTEGER,
    updated_at        TEXT NOT NULL
);
CREATE INDEX executions_sandbox_created ON executions (sandbox_id, created_at, id);
-- The running rows, by sandbox: the kernel-busy check reads them on every
-- python call, and recovery and GC scan them all.
CREATE INDEX executions_running ON executions (sandbox_id, kind) WHERE status = 'running';
CREATE INDEX executions_created_at ON executions (created_at);

-- +goose Down
DROP TABLE executions;

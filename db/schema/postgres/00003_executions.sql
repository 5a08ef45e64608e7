-- +goose Up
-- One row per python or shell execution through Bay (agent-reach.md §1.5).
-- tags is ",a,b," (sorted, '' when none) so that an exact tag is a substring
-- match on ",tag,"; images is a JSON array of base64 PNGs, NULL when none.
CREATE TABLE executions (
    id                text PRIMARY KEY,
    sandbox_id        text NOT NULL REFERENCES sandboxes (id),
    owner             text NOT NULL,
    kind              text NOT NULL,
    mode              text NOT NULL,
    status            text NOT NULL,
    instance_id       text NOT NULL,
    cwd               text,
    timeout_s         bigint NOT NULL,
    code              text NOT NULL,
    code_bytes        bigint NOT NULL,
    code_truncated    boolean NOT NULL,
    success           boolean,
    exit_code         bigint,
    execution_count   bigint,
    kernel_restarted  boolean NOT NULL DEFAULT FALSE,
    output            text NOT NULL DEFAULT '',
    output_bytes      bigint NOT NULL DEFAULT 0,
    output_truncated  boolean NOT NULL DEFAULT FALSE,
    error             text,
    error_truncated   boolean NOT NULL DEFAULT FALSE,
    error_code        text,
    images            text,
    image_count       bigint NOT NULL DEFAULT 0,
    images_truncated  boolean NOT NULL DEFAULT FALSE,
    description       text,
    tags              text NOT NULL DEFAULT '',
    notes             text,
    created_at        timestamptz NOT NULL,
    finished_at       timestamptz,
    execution_time_ms bigint,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX executions_sandbox_created ON executions (sandbox_id, created_at, id);
-- The running rows, by sandbox: the kernel-busy check reads them on every
-- python call, and recovery and GC scan them all.
CREATE INDEX executions_running ON executions (sandbox_id, kind) WHERE status = 'running';
CREATE INDEX executions_created_at ON executions (created_at);

-- +goose Down
DROP TABLE executions;

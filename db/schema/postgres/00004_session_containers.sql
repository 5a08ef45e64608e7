-- +goose Up
-- One row per container of a session (browser.md §1.6), the network owner at
-- position 0. capabilities is a comma list of what the container served when
-- it was started: calls are routed by it. sessions.container_id and
-- sessions.endpoint mirror the owner's. Sessions started before this table
-- existed have no rows: their one container is sessions.container_id.
CREATE TABLE session_containers (
    session_id   text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    name         text NOT NULL,
    position     integer NOT NULL,
    runtime_type text NOT NULL,
    port         integer NOT NULL,
    capabilities text NOT NULL,
    container_id text,
    endpoint     text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (session_id, name)
);
CREATE INDEX session_containers_container_id ON session_containers (container_id);

-- +goose Down
DROP TABLE session_containers;

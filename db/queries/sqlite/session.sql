-- name: SessionInsert :exec
INSERT INTO sessions (
    id, sandbox_id, runtime_type, profile_id, container_id, endpoint, desired_state,
    observed_state, last_observed_at, claimed_by, claimed_at, created_at, updated_at,
    last_active_at, runtime_token
) VALUES (
    sqlc.arg(id), sqlc.arg(sandbox_id), sqlc.arg(runtime_type), sqlc.arg(profile_id), sqlc.arg(container_id), sqlc.arg(endpoint), sqlc.arg(desired_state),
    sqlc.arg(observed_state), sqlc.arg(last_observed_at), sqlc.arg(claimed_by), sqlc.arg(claimed_at), sqlc.arg(created_at), sqlc.arg(updated_at),
    sqlc.arg(last_active_at), sqlc.arg(runtime_token)
);

-- name: SessionGet :one
SELECT * FROM sessions WHERE id = sqlc.arg(id);

-- name: SessionUpdate :execrows
UPDATE sessions SET
    container_id = sqlc.arg(container_id),
    endpoint = sqlc.arg(endpoint),
    desired_state = sqlc.arg(desired_state),
    observed_state = sqlc.arg(observed_state),
    last_observed_at = sqlc.arg(last_observed_at),
    claimed_by = sqlc.arg(claimed_by),
    claimed_at = sqlc.arg(claimed_at),
    updated_at = sqlc.arg(updated_at),
    last_active_at = sqlc.arg(last_active_at),
    runtime_token = sqlc.arg(runtime_token)
WHERE id = sqlc.arg(id);

-- name: SessionDelete :execrows
DELETE FROM sessions WHERE id = sqlc.arg(id);

-- name: SessionListBySandbox :many
SELECT * FROM sessions WHERE sandbox_id = sqlc.arg(sandbox_id) ORDER BY id;

-- name: SessionListByObservedState :many
SELECT * FROM sessions WHERE observed_state = sqlc.arg(observed_state) ORDER BY id;

-- name: SessionCountActiveByOwner :one
SELECT COUNT(*) FROM sessions s JOIN sandboxes sb ON sb.id = s.sandbox_id
WHERE sb.owner = sqlc.arg(owner) AND s.desired_state = 'running';

-- name: SessionContainerInsert :exec
INSERT INTO session_containers (
    session_id, name, position, runtime_type, port, capabilities, container_id, endpoint,
    created_at, updated_at
) VALUES (
    sqlc.arg(session_id), sqlc.arg(name), sqlc.arg(position), sqlc.arg(runtime_type), sqlc.arg(port), sqlc.arg(capabilities), sqlc.arg(container_id), sqlc.arg(endpoint),
    sqlc.arg(created_at), sqlc.arg(updated_at)
);

-- name: SessionContainersDelete :exec
DELETE FROM session_containers WHERE session_id = sqlc.arg(session_id);

-- name: SessionContainersList :many
SELECT * FROM session_containers WHERE session_id = sqlc.arg(session_id) ORDER BY position;

-- name: SessionGetByContainer :one
SELECT * FROM sessions
WHERE sessions.id IN (SELECT sc.session_id FROM session_containers sc WHERE sc.container_id = sqlc.arg(container_id))
   OR sessions.container_id = sqlc.arg(container_id)
ORDER BY sessions.id LIMIT 1;

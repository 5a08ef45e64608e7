-- name: SessionInsert :exec
INSERT INTO sessions (
    id, sandbox_id, runtime_type, profile_id, container_id, endpoint, desired_state,
    observed_state, last_observed_at, claimed_by, claimed_at, created_at, updated_at,
    last_active_at, runtime_token
) VALUES (
    @id, @sandbox_id, @runtime_type, @profile_id, @container_id, @endpoint, @desired_state,
    @observed_state, @last_observed_at, @claimed_by, @claimed_at, @created_at, @updated_at,
    @last_active_at, @runtime_token
);

-- name: SessionGet :one
SELECT * FROM sessions WHERE id = @id;

-- name: SessionUpdate :execrows
UPDATE sessions SET
    container_id = @container_id,
    endpoint = @endpoint,
    desired_state = @desired_state,
    observed_state = @observed_state,
    last_observed_at = @last_observed_at,
    claimed_by = @claimed_by,
    claimed_at = @claimed_at,
    updated_at = @updated_at,
    last_active_at = @last_active_at,
    runtime_token = @runtime_token
WHERE id = @id;

-- name: SessionDelete :execrows
DELETE FROM sessions WHERE id = @id;

-- name: SessionListBySandbox :many
SELECT * FROM sessions WHERE sandbox_id = @sandbox_id ORDER BY id;

-- name: SessionListByObservedState :many
SELECT * FROM sessions WHERE observed_state = @observed_state ORDER BY id;

-- name: SessionCountActiveByOwner :one
SELECT COUNT(*) FROM sessions s JOIN sandboxes sb ON sb.id = s.sandbox_id
WHERE sb.owner = @owner AND s.desired_state = 'running';

-- name: SessionContainerInsert :exec
INSERT INTO session_containers (
    session_id, name, position, runtime_type, port, capabilities, container_id, endpoint,
    created_at, updated_at
) VALUES (
    @session_id, @name, @position, @runtime_type, @port, @capabilities, @container_id, @endpoint,
    @created_at, @updated_at
);

-- name: SessionContainersDelete :exec
DELETE FROM session_containers WHERE session_id = @session_id;

-- name: SessionContainersList :many
SELECT * FROM session_containers WHERE session_id = @session_id ORDER BY position;

-- name: SessionGetByContainer :one
SELECT * FROM sessions
WHERE sessions.id IN (SELECT sc.session_id FROM session_containers sc WHERE sc.container_id = @container_id)
   OR sessions.container_id = @container_id
ORDER BY sessions.id LIMIT 1;

-- name: SandboxInsert :exec
INSERT INTO sandboxes (
    id, owner, profile_id, locker_id, current_session_id, expires_at, idle_expires_at,
    deleted_at, stop_reason, version, created_at, updated_at, last_active_at
) VALUES (
    @id, @owner, @profile_id, @locker_id, @current_session_id, @expires_at, @idle_expires_at,
    @deleted_at, @stop_reason, @version, @created_at, @updated_at, @last_active_at
);

-- name: SandboxGet :one
SELECT sb.id, sb.owner, sb.profile_id, sb.locker_id, sb.current_session_id, sb.expires_at,
       sb.idle_expires_at, sb.deleted_at, sb.stop_reason, sb.version, sb.created_at,
       sb.updated_at, sb.last_active_at,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS current_session_state
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.id = @id;

-- name: SandboxGetForOwner :one
SELECT sb.id, sb.owner, sb.profile_id, sb.locker_id, sb.current_session_id, sb.expires_at,
       sb.idle_expires_at, sb.deleted_at, sb.stop_reason, sb.version, sb.created_at,
       sb.updated_at, sb.last_active_at,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS current_session_state
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.id = @id AND sb.owner = @owner AND sb.deleted_at IS NULL;

-- name: SandboxUpdate :execrows
UPDATE sandboxes SET
    profile_id = @profile_id,
    locker_id = @locker_id,
    current_session_id = @current_session_id,
    expires_at = @expires_at,
    idle_expires_at = @idle_expires_at,
    deleted_at = @deleted_at,
    stop_reason = @stop_reason,
    version = @version,
    updated_at = @updated_at,
    last_active_at = @last_active_at
WHERE id = @id;

-- name: SandboxList :many
-- The status filter arrives as plain conditions (core.StatusMatch); the
-- status rule itself lives in Go only.
SELECT sb.id, sb.owner, sb.profile_id, sb.locker_id, sb.current_session_id, sb.expires_at,
       sb.idle_expires_at, sb.deleted_at, sb.stop_reason, sb.version, sb.created_at,
       sb.updated_at, sb.last_active_at,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS current_session_state
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.owner = @owner
  AND sb.deleted_at IS NULL
  AND sb.id > sqlc.arg(cursor)::text
  AND (NOT sqlc.arg(by_status)::boolean OR (
      (sqlc.arg(expired)::boolean
           AND sb.expires_at IS NOT NULL AND sb.expires_at < sqlc.arg(now)::timestamptz
       OR sqlc.arg(unexpired)::boolean
           AND (sb.expires_at IS NULL OR sb.expires_at >= sqlc.arg(now)::timestamptz))
      AND (sqlc.arg(no_session)::boolean AND ss.id IS NULL
           OR ss.observed_state = ANY(sqlc.arg(session_states)::text[]))))
ORDER BY sb.id
LIMIT @page_limit;

-- name: SandboxListIdleDue :many
SELECT id FROM sandboxes
WHERE deleted_at IS NULL AND idle_expires_at IS NOT NULL AND idle_expires_at < @now
ORDER BY id;

-- name: SandboxListPauseDue :many
SELECT sb.id FROM sandboxes sb
JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.profile_id = @profile_id AND sb.deleted_at IS NULL
  AND ss.observed_state = 'running'
  AND sb.idle_expires_at IS NOT NULL AND sb.idle_expires_at <= @before
ORDER BY sb.id;

-- name: SandboxListExpiredDue :many
SELECT id FROM sandboxes
WHERE deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at < @now
ORDER BY id;

-- name: SandboxListByLocker :many
SELECT id FROM sandboxes
WHERE locker_id = @locker_id AND deleted_at IS NULL
ORDER BY id;

-- name: SandboxGetForUpdate :one
-- Locks only the sandbox row (FOR UPDATE OF), not the optional session row.
SELECT sb.id, sb.owner, sb.profile_id, sb.locker_id, sb.current_session_id, sb.expires_at,
       sb.idle_expires_at, sb.deleted_at, sb.stop_reason, sb.version, sb.created_at,
       sb.updated_at, sb.last_active_at,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS current_session_state
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.id = @id
FOR UPDATE OF sb;

-- name: SandboxCountByState :many
-- Raw groups, the two inputs of the status rule; core folds them into
-- statuses (core.StatusCounts).
SELECT (sb.expires_at IS NOT NULL AND sb.expires_at < sqlc.arg(now)::timestamptz)::boolean AS expired,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS session_state,
       COUNT(*) AS n
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.deleted_at IS NULL
GROUP BY 1, 2;

-- name: SandboxCountByOwner :one
SELECT COUNT(*) FROM sandboxes WHERE owner = @owner AND deleted_at IS NULL;

-- name: OwnerLock :exec
-- Serialises the quota checks of one owner across transactions and Bay
-- instances until the transaction ends. SQLite needs no such lock: its
-- write transactions (BEGIN IMMEDIATE) already run one at a time.
SELECT pg_advisory_xact_lock(hashtextextended(@owner::text, 0));

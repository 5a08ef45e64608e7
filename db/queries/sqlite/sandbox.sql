-- name: SandboxInsert :exec
INSERT INTO sandboxes (
    id, owner, profile_id, locker_id, current_session_id, expires_at, idle_expires_at,
    deleted_at, stop_reason, version, created_at, updated_at, last_active_at
) VALUES (
    sqlc.arg(id), sqlc.arg(owner), sqlc.arg(profile_id), sqlc.arg(locker_id), sqlc.arg(current_session_id), sqlc.arg(expires_at), sqlc.arg(idle_expires_at),
    sqlc.arg(deleted_at), sqlc.arg(stop_reason), sqlc.arg(version), sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.arg(last_active_at)
);

-- name: SandboxGet :one
SELECT sb.id, sb.owner, sb.profile_id, sb.locker_id, sb.current_session_id, sb.expires_at,
       sb.idle_expires_at, sb.deleted_at, sb.stop_reason, sb.version, sb.created_at,
       sb.updated_at, sb.last_active_at,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS current_session_state
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.id = sqlc.arg(id);

-- name: SandboxGetForOwner :one
SELECT sb.id, sb.owner, sb.profile_id, sb.locker_id, sb.current_session_id, sb.expires_at,
       sb.idle_expires_at, sb.deleted_at, sb.stop_reason, sb.version, sb.created_at,
       sb.updated_at, sb.last_active_at,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS current_session_state
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.id = sqlc.arg(id) AND sb.owner = sqlc.arg(owner) AND sb.deleted_at IS NULL;

-- name: SandboxUpdate :execrows
UPDATE sandboxes SET
    profile_id = sqlc.arg(profile_id),
    locker_id = sqlc.arg(locker_id),
    current_session_id = sqlc.arg(current_session_id),
    expires_at = sqlc.arg(expires_at),
    idle_expires_at = sqlc.arg(idle_expires_at),
    deleted_at = sqlc.arg(deleted_at),
    stop_reason = sqlc.arg(stop_reason),
    version = sqlc.arg(version),
    updated_at = sqlc.arg(updated_at),
    last_active_at = sqlc.arg(last_active_at)
WHERE id = sqlc.arg(id);

-- name: SandboxList :many
-- The status filter arrives as plain conditions (core.StatusMatch); the
-- status rule itself lives in Go only. Two sqlc quirks shape it: sqlc
-- numbers the parameters (?1, ?2, ...) but expands sqlc.slice to bare ?s at
-- run time, so every other parameter must first appear before the slice or
-- it binds the wrong value (sqlc-dev/sqlc#2452), hence page_limit named once
-- up front in a condition that always holds (core keeps it at 1 or more);
-- and sqlc's SQLite parser skips a parameter under NOT, hence "= FALSE".
SELECT sb.id, sb.owner, sb.profile_id, sb.locker_id, sb.current_session_id, sb.expires_at,
       sb.idle_expires_at, sb.deleted_at, sb.stop_reason, sb.version, sb.created_at,
       sb.updated_at, sb.last_active_at,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS current_session_state
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.owner = sqlc.arg(owner)
  AND sb.deleted_at IS NULL
  AND sb.id > sqlc.arg(cursor)
  AND CAST(sqlc.arg(page_limit) AS INTEGER) > 0
  AND (CAST(sqlc.arg(by_status) AS BOOLEAN) = FALSE OR (
      (CAST(sqlc.arg(expired) AS BOOLEAN)
           AND sb.expires_at IS NOT NULL AND sb.expires_at < CAST(sqlc.arg(now) AS TEXT)
       OR CAST(sqlc.arg(unexpired) AS BOOLEAN)
           AND (sb.expires_at IS NULL OR sb.expires_at >= CAST(sqlc.arg(now) AS TEXT)))
      AND (CAST(sqlc.arg(no_session) AS BOOLEAN) AND ss.id IS NULL
           OR ss.observed_state IN (sqlc.slice(session_states)))))
ORDER BY sb.id
LIMIT sqlc.arg(page_limit);

-- name: SandboxListIdleDue :many
SELECT id FROM sandboxes
WHERE deleted_at IS NULL AND idle_expires_at IS NOT NULL AND idle_expires_at < sqlc.arg(now)
ORDER BY id;

-- name: SandboxListPauseDue :many
SELECT sb.id FROM sandboxes sb
JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.profile_id = sqlc.arg(profile_id) AND sb.deleted_at IS NULL
  AND ss.observed_state = 'running'
  AND sb.idle_expires_at IS NOT NULL AND sb.idle_expires_at <= sqlc.arg(before)
ORDER BY sb.id;

-- name: SandboxListExpiredDue :many
SELECT id FROM sandboxes
WHERE deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at < sqlc.arg(now)
ORDER BY id;

-- name: SandboxListByLocker :many
SELECT id FROM sandboxes
WHERE locker_id = sqlc.arg(locker_id) AND deleted_at IS NULL
ORDER BY id;

-- name: SandboxCountByState :many
-- Raw groups, the two inputs of the status rule; core folds them into
-- statuses (core.StatusCounts).
SELECT CAST(sb.expires_at IS NOT NULL AND sb.expires_at < CAST(sqlc.arg(now) AS TEXT) AS BOOLEAN) AS expired,
       CAST(COALESCE(ss.observed_state, '') AS TEXT) AS session_state,
       COUNT(*) AS n
FROM sandboxes sb
LEFT JOIN sessions ss ON ss.id = sb.current_session_id
WHERE sb.deleted_at IS NULL
GROUP BY 1, 2;

-- name: SandboxCountByOwner :one
SELECT COUNT(*) FROM sandboxes WHERE owner = sqlc.arg(owner) AND deleted_at IS NULL;

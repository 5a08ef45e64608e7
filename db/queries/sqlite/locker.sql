-- name: LockerInsert :exec
INSERT INTO lockers (
    id, owner, backend, driver_ref, managed, managed_by_sandbox_id, size_limit_mb,
    created_at, updated_at, last_accessed_at
) VALUES (
    sqlc.arg(id), sqlc.arg(owner), sqlc.arg(backend), sqlc.arg(driver_ref), sqlc.arg(managed), sqlc.arg(managed_by_sandbox_id), sqlc.arg(size_limit_mb),
    sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.arg(last_accessed_at)
);

-- name: LockerGet :one
SELECT * FROM lockers WHERE id = sqlc.arg(id);

-- name: LockerGetForOwner :one
SELECT * FROM lockers WHERE id = sqlc.arg(id) AND owner = sqlc.arg(owner);

-- name: LockerList :many
SELECT * FROM lockers
WHERE owner = sqlc.arg(owner) AND managed = sqlc.arg(managed) AND id > sqlc.arg(cursor)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: LockerTouch :execrows
UPDATE lockers SET last_accessed_at = sqlc.arg(last_accessed_at), updated_at = sqlc.arg(last_accessed_at)
WHERE id = sqlc.arg(id);

-- name: LockerDelete :execrows
DELETE FROM lockers WHERE id = sqlc.arg(id);

-- name: LockerListOrphans :many
SELECT l.* FROM lockers l
WHERE l.managed
  AND (l.managed_by_sandbox_id IS NULL
       OR EXISTS (SELECT 1 FROM sandboxes sb
                  WHERE sb.id = l.managed_by_sandbox_id AND sb.deleted_at IS NOT NULL))
ORDER BY l.id;

-- name: LockerUsageByOwner :one
SELECT COUNT(*) AS lockers, CAST(COALESCE(SUM(size_limit_mb), 0) AS INTEGER) AS total_mb
FROM lockers WHERE owner = sqlc.arg(owner);

-- name: LockerInsert :exec
INSERT INTO lockers (
    id, owner, backend, driver_ref, managed, managed_by_sandbox_id, size_limit_mb,
    created_at, updated_at, last_accessed_at
) VALUES (
    @id, @owner, @backend, @driver_ref, @managed, @managed_by_sandbox_id, @size_limit_mb,
    @created_at, @updated_at, @last_accessed_at
);

-- name: LockerGet :one
SELECT * FROM lockers WHERE id = @id;

-- name: LockerGetForOwner :one
SELECT * FROM lockers WHERE id = @id AND owner = @owner;

-- name: LockerList :many
SELECT * FROM lockers
WHERE owner = @owner AND managed = @managed AND id > @cursor
ORDER BY id
LIMIT @page_limit;

-- name: LockerTouch :execrows
UPDATE lockers SET last_accessed_at = @last_accessed_at, updated_at = @last_accessed_at
WHERE id = @id;

-- name: LockerDelete :execrows
DELETE FROM lockers WHERE id = @id;

-- name: LockerListOrphans :many
SELECT l.* FROM lockers l
WHERE l.managed
  AND (l.managed_by_sandbox_id IS NULL
       OR EXISTS (SELECT 1 FROM sandboxes sb
                  WHERE sb.id = l.managed_by_sandbox_id AND sb.deleted_at IS NOT NULL))
ORDER BY l.id;

-- name: LockerUsageByOwner :one
SELECT COUNT(*) AS lockers, COALESCE(SUM(size_limit_mb), 0)::bigint AS total_mb
FROM lockers WHERE owner = @owner;

-- name: PoolEntryInsert :exec
INSERT INTO pool_entries (
    id, profile_id, profile_key, sandbox_id, session_id, locker_id, runtime_token,
    containers, state, instance_id, created_at, updated_at
) VALUES (
    @id, @profile_id, @profile_key, @sandbox_id, @session_id, @locker_id, @runtime_token,
    @containers, @state, @instance_id, @created_at, @updated_at
);

-- name: PoolEntrySave :execrows
UPDATE pool_entries SET containers = @containers, state = @state, updated_at = @updated_at
WHERE id = @id AND state <> 'dropping';

-- name: PoolEntryRetire :execrows
UPDATE pool_entries SET state = 'dropping', updated_at = @updated_at
WHERE id = @id AND state <> 'dropping';

-- name: PoolEntryClaim :one
-- SKIP LOCKED: a claim another transaction holds is passed over, not
-- waited for, and never taken twice.
DELETE FROM pool_entries WHERE id = (
    SELECT p.id FROM pool_entries p
    WHERE p.profile_id = @profile_id AND p.profile_key = @profile_key AND p.state = 'ready'
    ORDER BY p.created_at, p.id LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: PoolEntryDelete :execrows
DELETE FROM pool_entries WHERE id = @id;

-- name: PoolEntryList :many
SELECT * FROM pool_entries ORDER BY created_at, id;

-- name: PoolEntryGetBySession :one
SELECT * FROM pool_entries WHERE session_id = @session_id;

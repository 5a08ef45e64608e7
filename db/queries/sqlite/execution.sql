-- name: ExecutionInsert :exec
INSERT INTO executions (
    id, sandbox_id, owner, kind, mode, status, instance_id, cwd, timeout_s,
    code, code_bytes, code_truncated, success, exit_code, execution_count, kernel_restarted,
    output, output_bytes, output_truncated, error, error_truncated, error_code,
    images, image_count, images_truncated, description, tags, notes,
    created_at, finished_at, execution_time_ms, updated_at
) VALUES (
    sqlc.arg(id), sqlc.arg(sandbox_id), sqlc.arg(owner), sqlc.arg(kind), sqlc.arg(mode), sqlc.arg(status), sqlc.arg(instance_id), sqlc.narg(cwd), sqlc.arg(timeout_s),
    sqlc.arg(code), sqlc.arg(code_bytes), sqlc.arg(code_truncated), sqlc.narg(success), sqlc.narg(exit_code), sqlc.narg(execution_count), sqlc.arg(kernel_restarted),
    sqlc.arg(output), sqlc.arg(output_bytes), sqlc.arg(output_truncated), sqlc.narg(error), sqlc.arg(error_truncated), sqlc.narg(error_code),
    sqlc.narg(images), sqlc.arg(image_count), sqlc.arg(images_truncated), sqlc.narg(description), sqlc.arg(tags), sqlc.narg(notes),
    sqlc.arg(created_at), sqlc.narg(finished_at), sqlc.narg(execution_time_ms), sqlc.arg(updated_at)
);

-- name: ExecutionGet :one
SELECT * FROM executions
WHERE owner = sqlc.arg(owner) AND sandbox_id = sqlc.arg(sandbox_id) AND id = sqlc.arg(id);

-- name: ExecutionLast :one
SELECT * FROM executions
WHERE owner = sqlc.arg(owner) AND sandbox_id = sqlc.arg(sandbox_id)
  AND (CAST(sqlc.narg(kind) AS TEXT) IS NULL OR kind = CAST(sqlc.narg(kind) AS TEXT))
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: ExecutionListDesc :many
-- Newest first, after the cursor (after_created_at, after_id) when given.
-- Times compare as their fixed-width text. tags is a JSON array of wanted
-- tags, or NULL: a row must hold each as ",tag," in its ",a,b," column.
-- w is a one-row table holding the tags parameter: sqlc's SQLite parser
-- leaves a parameter inside a subquery of a SELECT unbound.
SELECT e.* FROM executions e, (SELECT CAST(sqlc.narg(tags) AS TEXT) AS tags) w
WHERE e.owner = sqlc.arg(owner) AND e.sandbox_id = sqlc.arg(sandbox_id)
  AND (CAST(sqlc.narg(kind) AS TEXT) IS NULL OR e.kind = CAST(sqlc.narg(kind) AS TEXT))
  AND (CAST(sqlc.narg(status) AS TEXT) IS NULL OR e.status = CAST(sqlc.narg(status) AS TEXT))
  AND (CAST(sqlc.narg(success) AS BOOLEAN) IS NULL
       OR (e.status = 'finished' AND e.success = CAST(sqlc.narg(success) AS BOOLEAN)))
  AND (CAST(sqlc.narg(since) AS TEXT) IS NULL OR e.created_at >= CAST(sqlc.narg(since) AS TEXT))
  AND (CAST(sqlc.narg(until) AS TEXT) IS NULL OR e.created_at < CAST(sqlc.narg(until) AS TEXT))
  AND (CAST(sqlc.narg(has_description) AS BOOLEAN) IS NULL
       OR (e.description IS NOT NULL) = CAST(sqlc.narg(has_description) AS BOOLEAN))
  AND (CAST(sqlc.narg(has_notes) AS BOOLEAN) IS NULL
       OR (e.notes IS NOT NULL) = CAST(sqlc.narg(has_notes) AS BOOLEAN))
  AND NOT EXISTS (SELECT 1 FROM json_each(w.tags) j WHERE instr(e.tags, ',' || j.value || ',') = 0)
  AND (CAST(sqlc.narg(after_created_at) AS TEXT) IS NULL
       OR e.created_at < CAST(sqlc.narg(after_created_at) AS TEXT)
       OR (e.created_at = CAST(sqlc.narg(after_created_at) AS TEXT) AND e.id < sqlc.arg(after_id)))
ORDER BY e.created_at DESC, e.id DESC
LIMIT sqlc.arg(page_limit) OFFSET sqlc.arg(page_offset);

-- name: ExecutionListAsc :many
-- ExecutionListDesc oldest first.
SELECT e.* FROM executions e, (SELECT CAST(sqlc.narg(tags) AS TEXT) AS tags) w
WHERE e.owner = sqlc.arg(owner) AND e.sandbox_id = sqlc.arg(sandbox_id)
  AND (CAST(sqlc.narg(kind) AS TEXT) IS NULL OR e.kind = CAST(sqlc.narg(kind) AS TEXT))
  AND (CAST(sqlc.narg(status) AS TEXT) IS NULL OR e.status = CAST(sqlc.narg(status) AS TEXT))
  AND (CAST(sqlc.narg(success) AS BOOLEAN) IS NULL
       OR (e.status = 'finished' AND e.success = CAST(sqlc.narg(success) AS BOOLEAN)))
  AND (CAST(sqlc.narg(since) AS TEXT) IS NULL OR e.created_at >= CAST(sqlc.narg(since) AS TEXT))
  AND (CAST(sqlc.narg(until) AS TEXT) IS NULL OR e.created_at < CAST(sqlc.narg(until) AS TEXT))
  AND (CAST(sqlc.narg(has_description) AS BOOLEAN) IS NULL
       OR (e.description IS NOT NULL) = CAST(sqlc.narg(has_description) AS BOOLEAN))
  AND (CAST(sqlc.narg(has_notes) AS BOOLEAN) IS NULL
       OR (e.notes IS NOT NULL) = CAST(sqlc.narg(has_notes) AS BOOLEAN))
  AND NOT EXISTS (SELECT 1 FROM json_each(w.tags) j WHERE instr(e.tags, ',' || j.value || ',') = 0)
  AND (CAST(sqlc.narg(after_created_at) AS TEXT) IS NULL
       OR e.created_at > CAST(sqlc.narg(after_created_at) AS TEXT)
       OR (e.created_at = CAST(sqlc.narg(after_created_at) AS TEXT) AND e.id > sqlc.arg(after_id)))
ORDER BY e.created_at, e.id
LIMIT sqlc.arg(page_limit) OFFSET sqlc.arg(page_offset);

-- name: ExecutionCount :one
-- The filters of ExecutionListDesc.
SELECT COUNT(*) FROM executions e, (SELECT CAST(sqlc.narg(tags) AS TEXT) AS tags) w
WHERE e.owner = sqlc.arg(owner) AND e.sandbox_id = sqlc.arg(sandbox_id)
  AND (CAST(sqlc.narg(kind) AS TEXT) IS NULL OR e.kind = CAST(sqlc.narg(kind) AS TEXT))
  AND (CAST(sqlc.narg(status) AS TEXT) IS NULL OR e.status = CAST(sqlc.narg(status) AS TEXT))
  AND (CAST(sqlc.narg(success) AS BOOLEAN) IS NULL
       OR (e.status = 'finished' AND e.success = CAST(sqlc.narg(success) AS BOOLEAN)))
  AND (CAST(sqlc.narg(since) AS TEXT) IS NULL OR e.created_at >= CAST(sqlc.narg(since) AS TEXT))
  AND (CAST(sqlc.narg(until) AS TEXT) IS NULL OR e.created_at < CAST(sqlc.narg(until) AS TEXT))
  AND (CAST(sqlc.narg(has_description) AS BOOLEAN) IS NULL
       OR (e.description IS NOT NULL) = CAST(sqlc.narg(has_description) AS BOOLEAN))
  AND (CAST(sqlc.narg(has_notes) AS BOOLEAN) IS NULL
       OR (e.notes IS NOT NULL) = CAST(sqlc.narg(has_notes) AS BOOLEAN))
  AND NOT EXISTS (SELECT 1 FROM json_each(w.tags) j WHERE instr(e.tags, ',' || j.value || ',') = 0);

-- name: ExecutionFinish :execrows
-- The result columns only: description, tags and notes belong to PATCH.
UPDATE executions SET
    status = sqlc.arg(status),
    success = sqlc.narg(success),
    exit_code = sqlc.narg(exit_code),
    execution_count = sqlc.narg(execution_count),
    kernel_restarted = sqlc.arg(kernel_restarted),
    output = sqlc.arg(output),
    output_bytes = sqlc.arg(output_bytes),
    output_truncated = sqlc.arg(output_truncated),
    error = sqlc.narg(error),
    error_truncated = sqlc.arg(error_truncated),
    error_code = sqlc.narg(error_code),
    images = sqlc.narg(images),
    image_count = sqlc.arg(image_count),
    images_truncated = sqlc.arg(images_truncated),
    finished_at = sqlc.narg(finished_at),
    execution_time_ms = sqlc.narg(execution_time_ms),
    updated_at = sqlc.arg(updated_at)
WHERE id = sqlc.arg(id) AND status = 'running';

-- name: ExecutionProgress :exec
UPDATE executions SET
    output = sqlc.arg(output),
    output_bytes = sqlc.arg(output_bytes),
    output_truncated = sqlc.arg(output_truncated),
    updated_at = sqlc.arg(updated_at)
WHERE id = sqlc.arg(id) AND status = 'running';

-- name: ExecutionAnnotate :one
-- A merge-patch of the annotation columns: each set_ flag says whether its
-- column takes the given value (NULL clears it) or keeps its own.
UPDATE executions SET
    description = CASE WHEN CAST(sqlc.arg(set_description) AS BOOLEAN)
                       THEN CAST(sqlc.narg(description) AS TEXT) ELSE description END,
    tags = CASE WHEN CAST(sqlc.arg(set_tags) AS BOOLEAN)
                THEN CAST(sqlc.arg(tags) AS TEXT) ELSE tags END,
    notes = CASE WHEN CAST(sqlc.arg(set_notes) AS BOOLEAN)
                 THEN CAST(sqlc.narg(notes) AS TEXT) ELSE notes END,
    updated_at = CASE WHEN CAST(sqlc.arg(set_description) AS BOOLEAN)
                           OR CAST(sqlc.arg(set_tags) AS BOOLEAN)
                           OR CAST(sqlc.arg(set_notes) AS BOOLEAN)
                      THEN CAST(sqlc.arg(updated_at) AS TEXT) ELSE updated_at END
WHERE owner = sqlc.arg(owner) AND sandbox_id = sqlc.arg(sandbox_id) AND id = sqlc.arg(id)
RETURNING *;

-- name: ExecutionRunningPython :one
-- The unary + keeps the planner off the (sandbox_id, created_at) index,
-- which would walk every row of the sandbox: the partial index of running
-- rows holds the few candidates.
SELECT * FROM executions
WHERE sandbox_id = sqlc.arg(sandbox_id) AND status = 'running'
  AND kind = 'python' AND mode IN ('stream', 'async')
ORDER BY +created_at DESC, id DESC
LIMIT 1;

-- name: ExecutionDeleteOfDeletedSandboxes :execrows
DELETE FROM executions WHERE id IN (
    SELECT x.id FROM executions x
    LEFT JOIN sandboxes sb ON sb.id = x.sandbox_id
    WHERE sb.id IS NULL OR sb.deleted_at IS NOT NULL
    LIMIT sqlc.arg(batch));

-- name: ExecutionDeleteCreatedBefore :execrows
DELETE FROM executions WHERE id IN (
    SELECT x.id FROM executions x
    WHERE x.created_at < sqlc.arg(before)
    ORDER BY x.created_at
    LIMIT sqlc.arg(batch));

-- name: ExecutionDeleteBeyondCap :execrows
-- rn numbers each sandbox's rows newest first; rows past keep go. The
-- derived table has no alias: sqlc's SQLite parser resolves no column
-- through one (nor through a CTE).
DELETE FROM executions WHERE id IN (
    SELECT id FROM (
        SELECT x.id AS id,
               ROW_NUMBER() OVER (PARTITION BY x.sandbox_id ORDER BY x.created_at DESC, x.id DESC) AS rn
        FROM executions x)
    WHERE rn > CAST(sqlc.arg(keep) AS INTEGER)
    LIMIT sqlc.arg(batch));

-- name: ExecutionMarkLost :execrows
-- Running rows of instance_id created before started_before (an empty
-- instance_id matches none), and running rows past their own timeout plus
-- the margin. The second needs date arithmetic per row, the one place
-- SQLite's date functions read these columns: julianday parses the stored
-- text to the millisecond, plenty for a margin of minutes.
UPDATE executions SET
    status = 'lost',
    error_code = CAST(sqlc.arg(error_code) AS TEXT),
    error = CAST(sqlc.arg(error) AS TEXT),
    updated_at = sqlc.arg(now)
WHERE id IN (
    SELECT x.id FROM executions x
    WHERE x.status = 'running'
      AND ((x.instance_id = CAST(sqlc.arg(instance_id) AS TEXT) AND CAST(sqlc.arg(instance_id) AS TEXT) <> ''
            AND x.created_at < sqlc.arg(started_before))
           OR julianday(x.created_at) + (x.timeout_s * 1000000 + CAST(sqlc.arg(stale_margin_us) AS INTEGER)) / 86400000000.0
              < julianday(CAST(sqlc.arg(now) AS TEXT)))
    LIMIT sqlc.arg(batch));

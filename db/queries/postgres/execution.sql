-- name: ExecutionInsert :exec
INSERT INTO executions (
    id, sandbox_id, owner, kind, mode, status, instance_id, cwd, timeout_s,
    code, code_bytes, code_truncated, success, exit_code, execution_count, kernel_restarted,
    output, output_bytes, output_truncated, error, error_truncated, error_code,
    images, image_count, images_truncated, description, tags, notes,
    created_at, finished_at, execution_time_ms, updated_at
) VALUES (
    @id, @sandbox_id, @owner, @kind, @mode, @status, @instance_id, sqlc.narg(cwd), @timeout_s,
    @code, @code_bytes, @code_truncated, sqlc.narg(success), sqlc.narg(exit_code), sqlc.narg(execution_count), @kernel_restarted,
    @output, @output_bytes, @output_truncated, sqlc.narg(error), @error_truncated, sqlc.narg(error_code),
    sqlc.narg(images), @image_count, @images_truncated, sqlc.narg(description), @tags, sqlc.narg(notes),
    @created_at, sqlc.narg(finished_at), sqlc.narg(execution_time_ms), @updated_at
);

-- name: ExecutionGet :one
SELECT * FROM executions
WHERE owner = @owner AND sandbox_id = @sandbox_id AND id = @id;

-- name: ExecutionLast :one
SELECT * FROM executions
WHERE owner = @owner AND sandbox_id = @sandbox_id
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind)::text)
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: ExecutionListDesc :many
-- Newest first, after the cursor (after_created_at, after_id) when given.
-- A row must hold each wanted tag as ",tag," in its ",a,b," column.
SELECT e.* FROM executions e
WHERE e.owner = @owner AND e.sandbox_id = @sandbox_id
  AND (sqlc.narg(kind)::text IS NULL OR e.kind = sqlc.narg(kind)::text)
  AND (sqlc.narg(status)::text IS NULL OR e.status = sqlc.narg(status)::text)
  AND (sqlc.narg(success)::boolean IS NULL
       OR (e.status = 'finished' AND e.success = sqlc.narg(success)::boolean))
  AND (sqlc.narg(since)::timestamptz IS NULL OR e.created_at >= sqlc.narg(since)::timestamptz)
  AND (sqlc.narg(until)::timestamptz IS NULL OR e.created_at < sqlc.narg(until)::timestamptz)
  AND (sqlc.narg(has_description)::boolean IS NULL
       OR (e.description IS NOT NULL) = sqlc.narg(has_description)::boolean)
  AND (sqlc.narg(has_notes)::boolean IS NULL
       OR (e.notes IS NOT NULL) = sqlc.narg(has_notes)::boolean)
  AND NOT EXISTS (SELECT 1 FROM unnest(sqlc.narg(tags)::text[]) AS w(tag)
                  WHERE strpos(e.tags, ',' || w.tag || ',') = 0)
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR e.created_at < sqlc.narg(after_created_at)::timestamptz
       OR (e.created_at = sqlc.narg(after_created_at)::timestamptz AND e.id < sqlc.arg(after_id)::text))
ORDER BY e.created_at DESC, e.id DESC
LIMIT sqlc.arg(page_limit)::bigint OFFSET sqlc.arg(page_offset)::bigint;

-- name: ExecutionListAsc :many
-- ExecutionListDesc oldest first.
SELECT e.* FROM executions e
WHERE e.owner = @owner AND e.sandbox_id = @sandbox_id
  AND (sqlc.narg(kind)::text IS NULL OR e.kind = sqlc.narg(kind)::text)
  AND (sqlc.narg(status)::text IS NULL OR e.status = sqlc.narg(status)::text)
  AND (sqlc.narg(success)::boolean IS NULL
       OR (e.status = 'finished' AND e.success = sqlc.narg(success)::boolean))
  AND (sqlc.narg(since)::timestamptz IS NULL OR e.created_at >= sqlc.narg(since)::timestamptz)
  AND (sqlc.narg(until)::timestamptz IS NULL OR e.created_at < sqlc.narg(until)::timestamptz)
  AND (sqlc.narg(has_description)::boolean IS NULL
       OR (e.description IS NOT NULL) = sqlc.narg(has_description)::boolean)
  AND (sqlc.narg(has_notes)::boolean IS NULL
       OR (e.notes IS NOT NULL) = sqlc.narg(has_notes)::boolean)
  AND NOT EXISTS (SELECT 1 FROM unnest(sqlc.narg(tags)::text[]) AS w(tag)
                  WHERE strpos(e.tags, ',' || w.tag || ',') = 0)
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR e.created_at > sqlc.narg(after_created_at)::timestamptz
       OR (e.created_at = sqlc.narg(after_created_at)::timestamptz AND e.id > sqlc.arg(after_id)::text))
ORDER BY e.created_at, e.id
LIMIT sqlc.arg(page_limit)::bigint OFFSET sqlc.arg(page_offset)::bigint;

-- name: ExecutionCount :one
-- The filters of ExecutionListDesc.
SELECT COUNT(*) FROM executions e
WHERE e.owner = @owner AND e.sandbox_id = @sandbox_id
  AND (sqlc.narg(kind)::text IS NULL OR e.kind = sqlc.narg(kind)::text)
  AND (sqlc.narg(status)::text IS NULL OR e.status = sqlc.narg(status)::text)
  AND (sqlc.narg(success)::boolean IS NULL
       OR (e.status = 'finished' AND e.success = sqlc.narg(success)::boolean))
  AND (sqlc.narg(since)::timestamptz IS NULL OR e.created_at >= sqlc.narg(since)::timestamptz)
  AND (sqlc.narg(until)::timestamptz IS NULL OR e.created_at < sqlc.narg(until)::timestamptz)
  AND (sqlc.narg(has_description)::boolean IS NULL
       OR (e.description IS NOT NULL) = sqlc.narg(has_description)::boolean)
  AND (sqlc.narg(has_notes)::boolean IS NULL
       OR (e.notes IS NOT NULL) = sqlc.narg(has_notes)::boolean)
  AND NOT EXISTS (SELECT 1 FROM unnest(sqlc.narg(tags)::text[]) AS w(tag)
                  WHERE strpos(e.tags, ',' || w.tag || ',') = 0);

-- name: ExecutionFinish :execrows
-- The result columns only: description, tags and notes belong to PATCH.
UPDATE executions SET
    status = @status,
    success = sqlc.narg(success),
    exit_code = sqlc.narg(exit_code),
    execution_count = sqlc.narg(execution_count),
    kernel_restarted = @kernel_restarted,
    output = @output,
    output_bytes = @output_bytes,
    output_truncated = @output_truncated,
    error = sqlc.narg(error),
    error_truncated = @error_truncated,
    error_code = sqlc.narg(error_code),
    images = sqlc.narg(images),
    image_count = @image_count,
    images_truncated = @images_truncated,
    finished_at = sqlc.narg(finished_at),
    execution_time_ms = sqlc.narg(execution_time_ms),
    updated_at = @updated_at
WHERE id = @id AND status = 'running';

-- name: ExecutionProgress :exec
UPDATE executions SET
    output = @output,
    output_bytes = @output_bytes,
    output_truncated = @output_truncated,
    updated_at = @updated_at
WHERE id = @id AND status = 'running';

-- name: ExecutionAnnotate :one
-- A merge-patch of the annotation columns: each set_ flag says whether its
-- column takes the given value (NULL clears it) or keeps its own.
UPDATE executions SET
    description = CASE WHEN sqlc.arg(set_description)::boolean
                       THEN sqlc.narg(description)::text ELSE description END,
    tags = CASE WHEN sqlc.arg(set_tags)::boolean
                THEN sqlc.arg(tags)::text ELSE tags END,
    notes = CASE WHEN sqlc.arg(set_notes)::boolean
                 THEN sqlc.narg(notes)::text ELSE notes END,
    updated_at = CASE WHEN sqlc.arg(set_description)::boolean
                           OR sqlc.arg(set_tags)::boolean
                           OR sqlc.arg(set_notes)::boolean
                      THEN sqlc.arg(updated_at)::timestamptz ELSE updated_at END
WHERE owner = @owner AND sandbox_id = @sandbox_id AND id = @id
RETURNING *;

-- name: ExecutionRunningPython :one
SELECT * FROM executions
WHERE sandbox_id = @sandbox_id AND status = 'running'
  AND kind = 'python' AND mode IN ('stream', 'async')
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: ExecutionDeleteOfDeletedSandboxes :execrows
DELETE FROM executions WHERE id IN (
    SELECT x.id FROM executions x
    LEFT JOIN sandboxes sb ON sb.id = x.sandbox_id
    WHERE sb.id IS NULL OR sb.deleted_at IS NOT NULL
    LIMIT sqlc.arg(batch)::bigint);

-- name: ExecutionDeleteCreatedBefore :execrows
DELETE FROM executions WHERE id IN (
    SELECT x.id FROM executions x
    WHERE x.created_at < @before
    ORDER BY x.created_at
    LIMIT sqlc.arg(batch)::bigint);

-- name: ExecutionDeleteBeyondCap :execrows
-- rn numbers each sandbox's rows newest first; rows past keep go.
DELETE FROM executions WHERE id IN (
    SELECT r.id FROM (
        SELECT x.id,
               ROW_NUMBER() OVER (PARTITION BY x.sandbox_id ORDER BY x.created_at DESC, x.id DESC) AS rn
        FROM executions x) r
    WHERE r.rn > sqlc.arg(keep)::bigint
    LIMIT sqlc.arg(batch)::bigint);

-- name: ExecutionMarkLost :execrows
-- Running rows of instance_id created before started_before (an empty
-- instance_id matches none), and running rows past their own timeout plus
-- the margin.
UPDATE executions SET
    status = 'lost',
    error_code = sqlc.arg(error_code)::text,
    error = sqlc.arg(error)::text,
    updated_at = sqlc.arg(now)::timestamptz
WHERE id IN (
    SELECT x.id FROM executions x
    WHERE x.status = 'running'
      AND ((x.instance_id = sqlc.arg(instance_id)::text AND sqlc.arg(instance_id)::text <> ''
            AND x.created_at < sqlc.arg(started_before)::timestamptz)
           OR x.created_at + (x.timeout_s * 1000000 + sqlc.arg(stale_margin_us)::bigint) * interval '1 microsecond'
              < sqlc.arg(now)::timestamptz)
    LIMIT sqlc.arg(batch)::bigint);

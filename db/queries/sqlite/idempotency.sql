-- name: IdempotencyGet :one
SELECT * FROM idempotency_keys WHERE owner = sqlc.arg(owner) AND key = sqlc.arg(key);

-- name: IdempotencyInsert :execrows
INSERT INTO idempotency_keys (
    owner, key, request_fingerprint, response_snapshot, status_code, created_at, updated_at, expires_at
) VALUES (
    sqlc.arg(owner), sqlc.arg(key), sqlc.arg(request_fingerprint), sqlc.arg(response_snapshot), sqlc.arg(status_code), sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.arg(expires_at)
) ON CONFLICT (owner, key) DO NOTHING;

-- name: IdempotencyDelete :exec
DELETE FROM idempotency_keys WHERE owner = sqlc.arg(owner) AND key = sqlc.arg(key);

-- name: IdempotencyDeleteExpired :execrows
DELETE FROM idempotency_keys WHERE expires_at < sqlc.arg(now);

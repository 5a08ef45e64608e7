-- name: IdempotencyGet :one
SELECT * FROM idempotency_keys WHERE owner = @owner AND key = @key;

-- name: IdempotencyInsert :execrows
INSERT INTO idempotency_keys (
    owner, key, request_fingerprint, response_snapshot, status_code, created_at, updated_at, expires_at
) VALUES (
    @owner, @key, @request_fingerprint, @response_snapshot, @status_code, @created_at, @updated_at, @expires_at
) ON CONFLICT (owner, key) DO NOTHING;

-- name: IdempotencyDelete :exec
DELETE FROM idempotency_keys WHERE owner = @owner AND key = @key;

-- name: IdempotencyDeleteExpired :execrows
DELETE FROM idempotency_keys WHERE expires_at < @now;

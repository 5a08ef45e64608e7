-- +goose Up
-- The secret Bay hands a session's runtime at container creation and sends on
-- every call to it (ship.md "auth"). Sessions created before this column
-- existed have none; Bay replaces their containers on next use.
ALTER TABLE sessions ADD COLUMN runtime_token TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN runtime_token;

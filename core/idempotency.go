package core

import (
	"context"
	"time"
)

// IdempotencyRecord remembers the first successful response to a request
// made with an Idempotency-Key, per owner.
type IdempotencyRecord struct {
	Owner       string
	Key         string
	Fingerprint string
	// Response is the JSON body exactly as first sent.
	Response   []byte
	StatusCode int
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// IdempotencyStore persists idempotency records.
type IdempotencyStore interface {
	// Get returns the record for (owner, key), expired or not. Returns
	// not_found if there is none.
	Get(ctx context.Context, owner, key string) (*IdempotencyRecord, error)
	// Put stores r unless a record for (r.Owner, r.Key) exists, in which case
	// the first record is kept and stored is false.
	Put(ctx context.Context, r *IdempotencyRecord) (stored bool, err error)
	// Delete removes the record for (owner, key); a missing record is not an error.
	Delete(ctx context.Context, owner, key string) error
	// DeleteExpired removes every record that expired before now and returns
	// how many it removed.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

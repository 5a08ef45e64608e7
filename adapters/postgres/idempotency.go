package postgres

import (
	"context"
	"time"

	"github.com/bayhq/bay/adapters/postgres/internal/pgdb"
	"github.com/bayhq/bay/core"
)

type idempotencyStore struct{ s *Store }

var _ core.IdempotencyStore = idempotencyStore{}

func (st idempotencyStore) Get(ctx context.Context, owner, key string) (*core.IdempotencyRecord, error) {
	r, err := st.s.q.IdempotencyGet(ctx, pgdb.IdempotencyGetParams{Owner: owner, Key: key})
	if err != nil {
		return nil, notFoundOr(err, "Idempotency key", key)
	}
	rec := &core.IdempotencyRecord{
		Owner:       r.Owner,
		Key:         r.Key,
		Fingerprint: r.RequestFingerprint,
		Response:    r.ResponseSnapshot,
		StatusCode:  int(r.StatusCode),
		CreatedAt:   utc(r.CreatedAt),
		ExpiresAt:   utc(r.ExpiresAt),
	}
	return rec, nil
}

func (st idempotencyStore) Put(ctx context.Context, r *core.IdempotencyRecord) (bool, error) {
	n, err := st.s.q.IdempotencyInsert(ctx, pgdb.IdempotencyInsertParams{
		Owner:              r.Owner,
		Key:                r.Key,
		RequestFingerprint: r.Fingerprint,
		ResponseSnapshot:   nonNil(r.Response),
		StatusCode:         int32(r.StatusCode), // #nosec G115 -- an HTTP status code, below 600
		CreatedAt:          ts(r.CreatedAt),
		UpdatedAt:          ts(r.CreatedAt),
		ExpiresAt:          ts(r.ExpiresAt),
	})
	if err != nil {
		return false, translate(err)
	}
	return n == 1, nil
}

func (st idempotencyStore) Delete(ctx context.Context, owner, key string) error {
	return translate(st.s.q.IdempotencyDelete(ctx, pgdb.IdempotencyDeleteParams{Owner: owner, Key: key}))
}

func (st idempotencyStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	n, err := st.s.q.IdempotencyDeleteExpired(ctx, ts(now))
	return n, translate(err)
}

// nonNil keeps an empty body from binding as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

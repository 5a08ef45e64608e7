package sqlite

import (
	"context"
	"time"

	"github.com/bayhq/bay/adapters/sqlite/internal/sqlitedb"
	"github.com/bayhq/bay/core"
)

type idempotencyStore struct{ s *Store }

var _ core.IdempotencyStore = idempotencyStore{}

func (st idempotencyStore) Get(ctx context.Context, owner, key string) (*core.IdempotencyRecord, error) {
	r, err := st.s.q.IdempotencyGet(ctx, sqlitedb.IdempotencyGetParams{Owner: owner, Key: key})
	if err != nil {
		return nil, notFoundOr(err, "Idempotency key", key)
	}
	var p timeParser
	rec := &core.IdempotencyRecord{
		Owner:       r.Owner,
		Key:         r.Key,
		Fingerprint: r.RequestFingerprint,
		Response:    r.ResponseSnapshot,
		StatusCode:  int(r.StatusCode),
		CreatedAt:   p.t(r.CreatedAt),
		ExpiresAt:   p.t(r.ExpiresAt),
	}
	return rec, p.err
}

func (st idempotencyStore) Put(ctx context.Context, r *core.IdempotencyRecord) (bool, error) {
	n, err := st.s.q.IdempotencyInsert(ctx, sqlitedb.IdempotencyInsertParams{
		Owner:              r.Owner,
		Key:                r.Key,
		RequestFingerprint: r.Fingerprint,
		ResponseSnapshot:   nonNil(r.Response),
		StatusCode:         int64(r.StatusCode),
		CreatedAt:          timeString(r.CreatedAt),
		UpdatedAt:          timeString(r.CreatedAt),
		ExpiresAt:          timeString(r.ExpiresAt),
	})
	if err != nil {
		return false, translate(err)
	}
	return n == 1, nil
}

func (st idempotencyStore) Delete(ctx context.Context, owner, key string) error {
	return translate(st.s.q.IdempotencyDelete(ctx, sqlitedb.IdempotencyDeleteParams{Owner: owner, Key: key}))
}

func (st idempotencyStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	n, err := st.s.q.IdempotencyDeleteExpired(ctx, timeString(now))
	return n, translate(err)
}

// nonNil keeps an empty body from binding as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

package postgres

import (
	"context"
	"time"

	"github.com/bayhq/bay/adapters/postgres/internal/pgdb"
	"github.com/bayhq/bay/core"
)

type lockerStore struct{ s *Store }

var _ core.LockerStore = lockerStore{}

func (st lockerStore) Create(ctx context.Context, l *core.Locker) error {
	return translate(st.s.q.LockerInsert(ctx, pgdb.LockerInsertParams{
		ID:                 l.ID,
		Owner:              l.Owner,
		Backend:            l.Backend,
		DriverRef:          l.DriverRef,
		Managed:            l.Managed,
		ManagedBySandboxID: nullable(l.ManagedBySandboxID),
		SizeLimitMb:        l.SizeLimitMB,
		CreatedAt:          ts(l.CreatedAt),
		UpdatedAt:          ts(l.UpdatedAt),
		LastAccessedAt:     ts(l.LastAccessedAt),
	}))
}

func (st lockerStore) Get(ctx context.Context, id string) (*core.Locker, error) {
	row, err := st.s.q.LockerGet(ctx, id)
	if err != nil {
		return nil, notFoundOr(err, "Locker", id)
	}
	return lockerFromRow(row)
}

func (st lockerStore) GetForOwner(ctx context.Context, owner, id string) (*core.Locker, error) {
	row, err := st.s.q.LockerGetForOwner(ctx, pgdb.LockerGetForOwnerParams{ID: id, Owner: owner})
	if err != nil {
		return nil, notFoundOr(err, "Locker", id)
	}
	return lockerFromRow(row)
}

func (st lockerStore) List(ctx context.Context, f core.LockerFilter) ([]*core.Locker, error) {
	rows, err := st.s.q.LockerList(ctx, pgdb.LockerListParams{
		// #nosec G115 -- the caller keeps f.Limit within 1..MaxPageLimit (core.CheckLimit)
		Owner: f.Owner, Managed: f.Managed, Cursor: f.Cursor, PageLimit: int32(f.Limit),
	})
	if err != nil {
		return nil, translate(err)
	}
	return lockersFromRows(rows)
}

func (st lockerStore) Touch(ctx context.Context, id string, at time.Time) error {
	n, err := st.s.q.LockerTouch(ctx, pgdb.LockerTouchParams{ID: id, LastAccessedAt: ts(at)})
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Locker", id)
	}
	return nil
}

func (st lockerStore) Delete(ctx context.Context, id string) error {
	n, err := st.s.q.LockerDelete(ctx, id)
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Locker", id)
	}
	return nil
}

func (st lockerStore) ListOrphans(ctx context.Context) ([]*core.Locker, error) {
	rows, err := st.s.q.LockerListOrphans(ctx)
	if err != nil {
		return nil, translate(err)
	}
	return lockersFromRows(rows)
}

func lockersFromRows(rows []pgdb.Locker) ([]*core.Locker, error) {
	out := make([]*core.Locker, 0, len(rows))
	for _, r := range rows {
		l, err := lockerFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func lockerFromRow(r pgdb.Locker) (*core.Locker, error) {
	l := &core.Locker{
		ID:                 r.ID,
		Owner:              r.Owner,
		Backend:            r.Backend,
		DriverRef:          r.DriverRef,
		Managed:            r.Managed,
		ManagedBySandboxID: deref(r.ManagedBySandboxID),
		SizeLimitMB:        r.SizeLimitMb,
		CreatedAt:          utc(r.CreatedAt),
		UpdatedAt:          utc(r.UpdatedAt),
		LastAccessedAt:     utc(r.LastAccessedAt),
	}
	return l, nil
}

func (st lockerStore) UsageByOwner(ctx context.Context, owner string) (core.LockerUsage, error) {
	r, err := st.s.q.LockerUsageByOwner(ctx, owner)
	if err != nil {
		return core.LockerUsage{}, translate(err)
	}
	return core.LockerUsage{Count: r.Lockers, TotalMB: r.TotalMb}, nil
}

package postgres

import (
	"context"
	"time"

	"github.com/bayhq/bay/adapters/postgres/internal/pgdb"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/internal/poolrow"
)

type poolStore struct{ s *Store }

var _ core.PoolStore = poolStore{}

// WarmPool implements core.Store.
func (s *Store) WarmPool() core.PoolStore { return poolStore{s} }

func (st poolStore) Insert(ctx context.Context, e *core.PoolEntry) error {
	containers, err := poolrow.EncodeContainers(e.Containers)
	if err != nil {
		return err
	}
	return translate(st.s.q.PoolEntryInsert(ctx, pgdb.PoolEntryInsertParams{
		ID: e.ID, ProfileID: e.ProfileID, ProfileKey: e.ProfileKey, SandboxID: e.SandboxID,
		SessionID: e.SessionID, LockerID: e.LockerID, RuntimeToken: e.RuntimeToken,
		Containers: containers, State: string(e.State), InstanceID: e.InstanceID,
		CreatedAt: ts(e.CreatedAt), UpdatedAt: ts(e.UpdatedAt),
	}))
}

func (st poolStore) Save(ctx context.Context, e *core.PoolEntry) error {
	containers, err := poolrow.EncodeContainers(e.Containers)
	if err != nil {
		return err
	}
	n, err := st.s.q.PoolEntrySave(ctx, pgdb.PoolEntrySaveParams{
		ID: e.ID, Containers: containers, State: string(e.State), UpdatedAt: ts(e.UpdatedAt),
	})
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Pool entry", e.ID)
	}
	return nil
}

func (st poolStore) Retire(ctx context.Context, id string, now time.Time) error {
	n, err := st.s.q.PoolEntryRetire(ctx, pgdb.PoolEntryRetireParams{ID: id, UpdatedAt: ts(now)})
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Pool entry", id)
	}
	return nil
}

func (st poolStore) Claim(ctx context.Context, profileID, profileKey string) (*core.PoolEntry, error) {
	row, err := st.s.q.PoolEntryClaim(ctx, pgdb.PoolEntryClaimParams{ProfileID: profileID, ProfileKey: profileKey})
	if err != nil {
		return nil, notFoundOr(err, "Ready pool entry of profile", profileID)
	}
	return poolEntry(row)
}

func (st poolStore) Delete(ctx context.Context, id string) error {
	n, err := st.s.q.PoolEntryDelete(ctx, id)
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Pool entry", id)
	}
	return nil
}

func (st poolStore) List(ctx context.Context) ([]*core.PoolEntry, error) {
	rows, err := st.s.q.PoolEntryList(ctx)
	if err != nil {
		return nil, translate(err)
	}
	out := make([]*core.PoolEntry, 0, len(rows))
	for _, row := range rows {
		e, err := poolEntry(row)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (st poolStore) GetBySession(ctx context.Context, sessionID string) (*core.PoolEntry, error) {
	row, err := st.s.q.PoolEntryGetBySession(ctx, sessionID)
	if err != nil {
		return nil, notFoundOr(err, "Pool entry of session", sessionID)
	}
	return poolEntry(row)
}

func poolEntry(r pgdb.PoolEntry) (*core.PoolEntry, error) {
	containers, err := poolrow.DecodeContainers(r.Containers)
	if err != nil {
		return nil, err
	}
	return &core.PoolEntry{
		ID: r.ID, ProfileID: r.ProfileID, ProfileKey: r.ProfileKey, SandboxID: r.SandboxID,
		SessionID: r.SessionID, LockerID: r.LockerID, RuntimeToken: r.RuntimeToken,
		Containers: containers, State: core.PoolEntryState(r.State), InstanceID: r.InstanceID,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}, nil
}

package sqlite

import (
	"context"
	"time"

	"github.com/bayhq/bay/adapters/sqlite/internal/sqlitedb"
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
	return translate(st.s.q.PoolEntryInsert(ctx, sqlitedb.PoolEntryInsertParams{
		ID: e.ID, ProfileID: e.ProfileID, ProfileKey: e.ProfileKey, SandboxID: e.SandboxID,
		SessionID: e.SessionID, LockerID: e.LockerID, RuntimeToken: e.RuntimeToken,
		Containers: containers, State: string(e.State), InstanceID: e.InstanceID,
		CreatedAt: timeString(e.CreatedAt), UpdatedAt: timeString(e.UpdatedAt),
	}))
}

func (st poolStore) Save(ctx context.Context, e *core.PoolEntry) error {
	containers, err := poolrow.EncodeContainers(e.Containers)
	if err != nil {
		return err
	}
	n, err := st.s.q.PoolEntrySave(ctx, sqlitedb.PoolEntrySaveParams{
		ID: e.ID, Containers: containers, State: string(e.State), UpdatedAt: timeString(e.UpdatedAt),
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
	n, err := st.s.q.PoolEntryRetire(ctx, sqlitedb.PoolEntryRetireParams{ID: id, UpdatedAt: timeString(now)})
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Pool entry", id)
	}
	return nil
}

func (st poolStore) Claim(ctx context.Context, profileID, profileKey string) (*core.PoolEntry, error) {
	row, err := st.s.q.PoolEntryClaim(ctx, sqlitedb.PoolEntryClaimParams{ProfileID: profileID, ProfileKey: profileKey})
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

func poolEntry(r sqlitedb.PoolEntry) (*core.PoolEntry, error) {
	containers, err := poolrow.DecodeContainers(r.Containers)
	if err != nil {
		return nil, err
	}
	var p timeParser
	e := &core.PoolEntry{
		ID: r.ID, ProfileID: r.ProfileID, ProfileKey: r.ProfileKey, SandboxID: r.SandboxID,
		SessionID: r.SessionID, LockerID: r.LockerID, RuntimeToken: r.RuntimeToken,
		Containers: containers, State: core.PoolEntryState(r.State), InstanceID: r.InstanceID,
		CreatedAt: p.t(r.CreatedAt), UpdatedAt: p.t(r.UpdatedAt),
	}
	return e, p.err
}

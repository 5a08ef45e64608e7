package sqlite

import (
	"context"
	"time"

	"github.com/bayhq/bay/adapters/sqlite/internal/sqlitedb"
	"github.com/bayhq/bay/core"
)

type sandboxStore struct{ s *Store }

var _ core.SandboxStore = sandboxStore{}

func (st sandboxStore) Create(ctx context.Context, sb *core.Sandbox) error {
	return translate(st.s.q.SandboxInsert(ctx, sqlitedb.SandboxInsertParams{
		ID:               sb.ID,
		Owner:            sb.Owner,
		ProfileID:        sb.ProfileID,
		LockerID:         nullable(sb.LockerID),
		CurrentSessionID: nullable(sb.CurrentSessionID),
		ExpiresAt:        timePtrString(sb.ExpiresAt),
		IdleExpiresAt:    timePtrString(sb.IdleExpiresAt),
		DeletedAt:        timePtrString(sb.DeletedAt),
		StopReason:       string(sb.StopReason),
		Version:          sb.Version,
		CreatedAt:        timeString(sb.CreatedAt),
		UpdatedAt:        timeString(sb.UpdatedAt),
		LastActiveAt:     timeString(sb.LastActiveAt),
	}))
}

func (st sandboxStore) Get(ctx context.Context, id string) (*core.Sandbox, error) {
	row, err := st.s.q.SandboxGet(ctx, id)
	if err != nil {
		return nil, notFoundOr(err, "Sandbox", id)
	}
	return sandboxFromRow(row)
}

func (st sandboxStore) GetForOwner(ctx context.Context, owner, id string) (*core.Sandbox, error) {
	row, err := st.s.q.SandboxGetForOwner(ctx, sqlitedb.SandboxGetForOwnerParams{ID: id, Owner: owner})
	if err != nil {
		return nil, notFoundOr(err, "Sandbox", id)
	}
	return sandboxFromRow(sqlitedb.SandboxGetRow(row))
}

// GetForUpdate needs no row lock on SQLite: every transaction is BEGIN
// IMMEDIATE, so the enclosing transaction already holds the database's
// write lock.
func (st sandboxStore) GetForUpdate(ctx context.Context, id string) (*core.Sandbox, error) {
	return st.Get(ctx, id)
}

func (st sandboxStore) Save(ctx context.Context, sb *core.Sandbox) error {
	n, err := st.s.q.SandboxUpdate(ctx, sqlitedb.SandboxUpdateParams{
		ID:               sb.ID,
		ProfileID:        sb.ProfileID,
		LockerID:         nullable(sb.LockerID),
		CurrentSessionID: nullable(sb.CurrentSessionID),
		ExpiresAt:        timePtrString(sb.ExpiresAt),
		IdleExpiresAt:    timePtrString(sb.IdleExpiresAt),
		DeletedAt:        timePtrString(sb.DeletedAt),
		StopReason:       string(sb.StopReason),
		Version:          sb.Version,
		UpdatedAt:        timeString(sb.UpdatedAt),
		LastActiveAt:     timeString(sb.LastActiveAt),
	})
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Sandbox", sb.ID)
	}
	return nil
}

func (st sandboxStore) List(ctx context.Context, f core.SandboxFilter) ([]*core.Sandbox, error) {
	rows, err := st.s.q.SandboxList(ctx, sqlitedb.SandboxListParams{
		Owner:         f.Owner,
		Cursor:        f.Cursor,
		PageLimit:     int64(f.Limit),
		ByStatus:      f.Status.Set,
		Expired:       f.Status.Expired,
		Now:           timeString(f.Now),
		Unexpired:     f.Status.Unexpired,
		NoSession:     f.Status.NoSession,
		SessionStates: stateStrings(f.Status.SessionStates),
	})
	if err != nil {
		return nil, translate(err)
	}
	out := make([]*core.Sandbox, 0, len(rows))
	for _, r := range rows {
		sb, err := sandboxFromRow(sqlitedb.SandboxGetRow(r))
		if err != nil {
			return nil, err
		}
		out = append(out, sb)
	}
	return out, nil
}

func (st sandboxStore) ListIdleDue(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := st.s.q.SandboxListIdleDue(ctx, timePtrString(&now))
	return ids, translate(err)
}

func (st sandboxStore) ListPauseDue(ctx context.Context, profileID string, before time.Time) ([]string, error) {
	ids, err := st.s.q.SandboxListPauseDue(ctx, sqlitedb.SandboxListPauseDueParams{ProfileID: profileID, Before: timePtrString(&before)})
	return ids, translate(err)
}

func (st sandboxStore) ListExpiredDue(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := st.s.q.SandboxListExpiredDue(ctx, timePtrString(&now))
	return ids, translate(err)
}

func (st sandboxStore) ListByLocker(ctx context.Context, lockerID string) ([]string, error) {
	ids, err := st.s.q.SandboxListByLocker(ctx, &lockerID)
	return ids, translate(err)
}

func sandboxFromRow(r sqlitedb.SandboxGetRow) (*core.Sandbox, error) {
	var p timeParser
	sb := &core.Sandbox{
		ID:                  r.ID,
		Owner:               r.Owner,
		ProfileID:           r.ProfileID,
		LockerID:            deref(r.LockerID),
		CurrentSessionID:    deref(r.CurrentSessionID),
		ExpiresAt:           p.ptr(r.ExpiresAt),
		IdleExpiresAt:       p.ptr(r.IdleExpiresAt),
		DeletedAt:           p.ptr(r.DeletedAt),
		StopReason:          core.StopReason(r.StopReason),
		Version:             r.Version,
		CreatedAt:           p.t(r.CreatedAt),
		UpdatedAt:           p.t(r.UpdatedAt),
		LastActiveAt:        p.t(r.LastActiveAt),
		CurrentSessionState: core.SessionState(r.CurrentSessionState),
	}
	return sb, p.err
}

func (st sandboxStore) CountByState(ctx context.Context, now time.Time) ([]core.SandboxCount, error) {
	rows, err := st.s.q.SandboxCountByState(ctx, timeString(now))
	if err != nil {
		return nil, translate(err)
	}
	out := make([]core.SandboxCount, 0, len(rows))
	for _, r := range rows {
		out = append(out, core.SandboxCount{Expired: r.Expired, SessionState: core.SessionState(r.SessionState), N: r.N})
	}
	return out, nil
}

func (st sandboxStore) CountByOwner(ctx context.Context, owner string) (int64, error) {
	n, err := st.s.q.SandboxCountByOwner(ctx, owner)
	return n, translate(err)
}

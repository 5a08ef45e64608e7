package postgres

import (
	"context"
	"time"

	"github.com/bayhq/bay/adapters/postgres/internal/pgdb"
	"github.com/bayhq/bay/core"
)

type sandboxStore struct{ s *Store }

var _ core.SandboxStore = sandboxStore{}

func (st sandboxStore) Create(ctx context.Context, sb *core.Sandbox) error {
	return translate(st.s.q.SandboxInsert(ctx, pgdb.SandboxInsertParams{
		ID:               sb.ID,
		Owner:            sb.Owner,
		ProfileID:        sb.ProfileID,
		LockerID:         nullable(sb.LockerID),
		CurrentSessionID: nullable(sb.CurrentSessionID),
		ExpiresAt:        tsPtr(sb.ExpiresAt),
		IdleExpiresAt:    tsPtr(sb.IdleExpiresAt),
		DeletedAt:        tsPtr(sb.DeletedAt),
		StopReason:       string(sb.StopReason),
		Version:          sb.Version,
		CreatedAt:        ts(sb.CreatedAt),
		UpdatedAt:        ts(sb.UpdatedAt),
		LastActiveAt:     ts(sb.LastActiveAt),
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
	row, err := st.s.q.SandboxGetForOwner(ctx, pgdb.SandboxGetForOwnerParams{ID: id, Owner: owner})
	if err != nil {
		return nil, notFoundOr(err, "Sandbox", id)
	}
	return sandboxFromRow(pgdb.SandboxGetRow(row))
}

// GetForUpdate locks the sandbox row with SELECT … FOR UPDATE until the end
// of the enclosing transaction, across every Bay instance on this database.
func (st sandboxStore) GetForUpdate(ctx context.Context, id string) (*core.Sandbox, error) {
	row, err := st.s.q.SandboxGetForUpdate(ctx, id)
	if err != nil {
		return nil, notFoundOr(err, "Sandbox", id)
	}
	return sandboxFromRow(pgdb.SandboxGetRow(row))
}

func (st sandboxStore) Save(ctx context.Context, sb *core.Sandbox) error {
	n, err := st.s.q.SandboxUpdate(ctx, pgdb.SandboxUpdateParams{
		ID:               sb.ID,
		ProfileID:        sb.ProfileID,
		LockerID:         nullable(sb.LockerID),
		CurrentSessionID: nullable(sb.CurrentSessionID),
		ExpiresAt:        tsPtr(sb.ExpiresAt),
		IdleExpiresAt:    tsPtr(sb.IdleExpiresAt),
		DeletedAt:        tsPtr(sb.DeletedAt),
		StopReason:       string(sb.StopReason),
		Version:          sb.Version,
		UpdatedAt:        ts(sb.UpdatedAt),
		LastActiveAt:     ts(sb.LastActiveAt),
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
	rows, err := st.s.q.SandboxList(ctx, pgdb.SandboxListParams{
		Owner:         f.Owner,
		Cursor:        f.Cursor,
		ByStatus:      f.Status.Set,
		Expired:       f.Status.Expired,
		Now:           ts(f.Now),
		Unexpired:     f.Status.Unexpired,
		NoSession:     f.Status.NoSession,
		SessionStates: stateStrings(f.Status.SessionStates),
		PageLimit:     int32(f.Limit), // #nosec G115 -- the caller keeps f.Limit within 1..MaxPageLimit (core.CheckLimit)
	})
	if err != nil {
		return nil, translate(err)
	}
	out := make([]*core.Sandbox, 0, len(rows))
	for _, r := range rows {
		sb, err := sandboxFromRow(pgdb.SandboxGetRow(r))
		if err != nil {
			return nil, err
		}
		out = append(out, sb)
	}
	return out, nil
}

func (st sandboxStore) ListIdleDue(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := st.s.q.SandboxListIdleDue(ctx, tsPtr(&now))
	return ids, translate(err)
}

func (st sandboxStore) ListPauseDue(ctx context.Context, profileID string, before time.Time) ([]string, error) {
	ids, err := st.s.q.SandboxListPauseDue(ctx, pgdb.SandboxListPauseDueParams{ProfileID: profileID, Before: tsPtr(&before)})
	return ids, translate(err)
}

func (st sandboxStore) ListExpiredDue(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := st.s.q.SandboxListExpiredDue(ctx, tsPtr(&now))
	return ids, translate(err)
}

func (st sandboxStore) ListByLocker(ctx context.Context, lockerID string) ([]string, error) {
	ids, err := st.s.q.SandboxListByLocker(ctx, &lockerID)
	return ids, translate(err)
}

func sandboxFromRow(r pgdb.SandboxGetRow) (*core.Sandbox, error) {
	sb := &core.Sandbox{
		ID:                  r.ID,
		Owner:               r.Owner,
		ProfileID:           r.ProfileID,
		LockerID:            deref(r.LockerID),
		CurrentSessionID:    deref(r.CurrentSessionID),
		ExpiresAt:           utcPtr(r.ExpiresAt),
		IdleExpiresAt:       utcPtr(r.IdleExpiresAt),
		DeletedAt:           utcPtr(r.DeletedAt),
		StopReason:          core.StopReason(r.StopReason),
		Version:             r.Version,
		CreatedAt:           utc(r.CreatedAt),
		UpdatedAt:           utc(r.UpdatedAt),
		LastActiveAt:        utc(r.LastActiveAt),
		CurrentSessionState: core.SessionState(r.CurrentSessionState),
	}
	return sb, nil
}

func (st sandboxStore) CountByState(ctx context.Context, now time.Time) ([]core.SandboxCount, error) {
	rows, err := st.s.q.SandboxCountByState(ctx, ts(now))
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

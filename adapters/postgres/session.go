package postgres

import (
	"context"

	"github.com/bayhq/bay/adapters/postgres/internal/pgdb"
	"github.com/bayhq/bay/core"
)

type sessionStore struct{ s *Store }

var _ core.SessionStore = sessionStore{}

func (st sessionStore) Insert(ctx context.Context, s *core.Session) error {
	return translate(st.s.q.SessionInsert(ctx, pgdb.SessionInsertParams{
		ID:             s.ID,
		SandboxID:      s.SandboxID,
		RuntimeType:    s.RuntimeType,
		ProfileID:      s.ProfileID,
		ContainerID:    nullable(s.ContainerID),
		Endpoint:       nullable(s.Endpoint),
		DesiredState:   string(s.DesiredState),
		ObservedState:  string(s.ObservedState),
		LastObservedAt: tsPtr(s.LastObservedAt),
		ClaimedBy:      nullable(s.ClaimedBy),
		ClaimedAt:      tsPtr(s.ClaimedAt),
		CreatedAt:      ts(s.CreatedAt),
		UpdatedAt:      ts(s.UpdatedAt),
		LastActiveAt:   ts(s.LastActiveAt),
		RuntimeToken:   s.RuntimeToken,
	}))
}

func (st sessionStore) Get(ctx context.Context, id string) (*core.Session, error) {
	row, err := st.s.q.SessionGet(ctx, id)
	if err != nil {
		return nil, notFoundOr(err, "Session", id)
	}
	return sessionFromRow(row)
}

func (st sessionStore) Save(ctx context.Context, s *core.Session) error {
	n, err := st.s.q.SessionUpdate(ctx, pgdb.SessionUpdateParams{
		ID:             s.ID,
		ContainerID:    nullable(s.ContainerID),
		Endpoint:       nullable(s.Endpoint),
		DesiredState:   string(s.DesiredState),
		ObservedState:  string(s.ObservedState),
		LastObservedAt: tsPtr(s.LastObservedAt),
		ClaimedBy:      nullable(s.ClaimedBy),
		ClaimedAt:      tsPtr(s.ClaimedAt),
		UpdatedAt:      ts(s.UpdatedAt),
		LastActiveAt:   ts(s.LastActiveAt),
		RuntimeToken:   s.RuntimeToken,
	})
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Session", s.ID)
	}
	return nil
}

func (st sessionStore) Delete(ctx context.Context, id string) error {
	n, err := st.s.q.SessionDelete(ctx, id)
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return notFound("Session", id)
	}
	return nil
}

func (st sessionStore) ListBySandbox(ctx context.Context, sandboxID string) ([]*core.Session, error) {
	rows, err := st.s.q.SessionListBySandbox(ctx, sandboxID)
	if err != nil {
		return nil, translate(err)
	}
	return sessionsFromRows(rows)
}

func (st sessionStore) ListByObservedState(ctx context.Context, state core.SessionState) ([]*core.Session, error) {
	rows, err := st.s.q.SessionListByObservedState(ctx, string(state))
	if err != nil {
		return nil, translate(err)
	}
	return sessionsFromRows(rows)
}

func sessionsFromRows(rows []pgdb.Session) ([]*core.Session, error) {
	out := make([]*core.Session, 0, len(rows))
	for _, r := range rows {
		s, err := sessionFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func sessionFromRow(r pgdb.Session) (*core.Session, error) {
	s := &core.Session{
		ID:             r.ID,
		SandboxID:      r.SandboxID,
		RuntimeType:    r.RuntimeType,
		ProfileID:      r.ProfileID,
		ContainerID:    deref(r.ContainerID),
		Endpoint:       deref(r.Endpoint),
		DesiredState:   core.SessionState(r.DesiredState),
		ObservedState:  core.SessionState(r.ObservedState),
		LastObservedAt: utcPtr(r.LastObservedAt),
		ClaimedBy:      deref(r.ClaimedBy),
		ClaimedAt:      utcPtr(r.ClaimedAt),
		CreatedAt:      utc(r.CreatedAt),
		UpdatedAt:      utc(r.UpdatedAt),
		LastActiveAt:   utc(r.LastActiveAt),
		RuntimeToken:   r.RuntimeToken,
	}
	return s, nil
}

func (st sessionStore) CountActiveByOwner(ctx context.Context, owner string) (int64, error) {
	n, err := st.s.q.SessionCountActiveByOwner(ctx, owner)
	return n, translate(err)
}

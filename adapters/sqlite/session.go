package sqlite

import (
	"context"
	"strings"

	"github.com/bayhq/bay/adapters/sqlite/internal/sqlitedb"
	"github.com/bayhq/bay/core"
)

type sessionStore struct{ s *Store }

var _ core.SessionStore = sessionStore{}

// inTx runs fn on the queries of a transaction: the store's own when it is
// bound to one, else a new one. A session and its container rows are
// written together.
func (st sessionStore) inTx(ctx context.Context, fn func(q *sqlitedb.Queries) error) error {
	return st.s.InTx(ctx, func(tx core.Store) error { return fn(tx.(*Store).q) })
}

func (st sessionStore) Insert(ctx context.Context, s *core.Session) error {
	return st.inTx(ctx, func(q *sqlitedb.Queries) error {
		err := q.SessionInsert(ctx, sqlitedb.SessionInsertParams{
			ID:             s.ID,
			SandboxID:      s.SandboxID,
			RuntimeType:    s.RuntimeType,
			ProfileID:      s.ProfileID,
			ContainerID:    nullable(s.ContainerID),
			Endpoint:       nullable(s.Endpoint),
			DesiredState:   string(s.DesiredState),
			ObservedState:  string(s.ObservedState),
			LastObservedAt: timePtrString(s.LastObservedAt),
			ClaimedBy:      nullable(s.ClaimedBy),
			ClaimedAt:      timePtrString(s.ClaimedAt),
			CreatedAt:      timeString(s.CreatedAt),
			UpdatedAt:      timeString(s.UpdatedAt),
			LastActiveAt:   timeString(s.LastActiveAt),
			RuntimeToken:   s.RuntimeToken,
		})
		if err != nil {
			return translate(err)
		}
		return insertContainers(ctx, q, s)
	})
}

// insertContainers writes the session's container rows, in order.
func insertContainers(ctx context.Context, q *sqlitedb.Queries, s *core.Session) error {
	for i, c := range s.Containers {
		err := q.SessionContainerInsert(ctx, sqlitedb.SessionContainerInsertParams{
			SessionID:    s.ID,
			Name:         c.Name,
			Position:     int64(i),
			RuntimeType:  c.RuntimeType,
			Port:         int64(c.Port),
			Capabilities: strings.Join(c.Capabilities, ","),
			ContainerID:  nullable(c.ContainerID),
			Endpoint:     nullable(c.Endpoint),
			CreatedAt:    timeString(c.CreatedAt),
			UpdatedAt:    timeString(c.UpdatedAt),
		})
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

func (st sessionStore) Get(ctx context.Context, id string) (*core.Session, error) {
	row, err := st.s.q.SessionGet(ctx, id)
	if err != nil {
		return nil, notFoundOr(err, "Session", id)
	}
	return st.withContainers(ctx, row)
}

func (st sessionStore) GetByContainer(ctx context.Context, containerID string) (*core.Session, error) {
	row, err := st.s.q.SessionGetByContainer(ctx, &containerID)
	if err != nil {
		return nil, notFoundOr(err, "Session of container", containerID)
	}
	return st.withContainers(ctx, row)
}

func (st sessionStore) Save(ctx context.Context, s *core.Session) error {
	return st.inTx(ctx, func(q *sqlitedb.Queries) error {
		n, err := q.SessionUpdate(ctx, sqlitedb.SessionUpdateParams{
			ID:             s.ID,
			ContainerID:    nullable(s.ContainerID),
			Endpoint:       nullable(s.Endpoint),
			DesiredState:   string(s.DesiredState),
			ObservedState:  string(s.ObservedState),
			LastObservedAt: timePtrString(s.LastObservedAt),
			ClaimedBy:      nullable(s.ClaimedBy),
			ClaimedAt:      timePtrString(s.ClaimedAt),
			UpdatedAt:      timeString(s.UpdatedAt),
			LastActiveAt:   timeString(s.LastActiveAt),
			RuntimeToken:   s.RuntimeToken,
		})
		if err != nil {
			return translate(err)
		}
		if n == 0 {
			return notFound("Session", s.ID)
		}
		if err := q.SessionContainersDelete(ctx, s.ID); err != nil {
			return translate(err)
		}
		return insertContainers(ctx, q, s)
	})
}

func (st sessionStore) Delete(ctx context.Context, id string) error {
	return st.inTx(ctx, func(q *sqlitedb.Queries) error {
		if err := q.SessionContainersDelete(ctx, id); err != nil {
			return translate(err)
		}
		n, err := q.SessionDelete(ctx, id)
		if err != nil {
			return translate(err)
		}
		if n == 0 {
			return notFound("Session", id)
		}
		return nil
	})
}

func (st sessionStore) ListBySandbox(ctx context.Context, sandboxID string) ([]*core.Session, error) {
	rows, err := st.s.q.SessionListBySandbox(ctx, sandboxID)
	if err != nil {
		return nil, translate(err)
	}
	return st.sessionsFromRows(ctx, rows)
}

func (st sessionStore) ListByObservedState(ctx context.Context, state core.SessionState) ([]*core.Session, error) {
	rows, err := st.s.q.SessionListByObservedState(ctx, string(state))
	if err != nil {
		return nil, translate(err)
	}
	return st.sessionsFromRows(ctx, rows)
}

func (st sessionStore) sessionsFromRows(ctx context.Context, rows []sqlitedb.Session) ([]*core.Session, error) {
	out := make([]*core.Session, 0, len(rows))
	for _, r := range rows {
		s, err := st.withContainers(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// withContainers maps a session row and reads its container rows.
func (st sessionStore) withContainers(ctx context.Context, r sqlitedb.Session) (*core.Session, error) {
	s, err := sessionFromRow(r)
	if err != nil {
		return nil, err
	}
	rows, err := st.s.q.SessionContainersList(ctx, s.ID)
	if err != nil {
		return nil, translate(err)
	}
	var p timeParser
	for _, c := range rows {
		s.Containers = append(s.Containers, core.SessionContainer{
			Name:         c.Name,
			RuntimeType:  c.RuntimeType,
			Port:         int(c.Port),
			Capabilities: splitList(c.Capabilities),
			ContainerID:  deref(c.ContainerID),
			Endpoint:     deref(c.Endpoint),
			CreatedAt:    p.t(c.CreatedAt),
			UpdatedAt:    p.t(c.UpdatedAt),
		})
	}
	return s, p.err
}

// splitList reads a comma list; "" is none.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func sessionFromRow(r sqlitedb.Session) (*core.Session, error) {
	var p timeParser
	s := &core.Session{
		ID:             r.ID,
		SandboxID:      r.SandboxID,
		RuntimeType:    r.RuntimeType,
		ProfileID:      r.ProfileID,
		ContainerID:    deref(r.ContainerID),
		Endpoint:       deref(r.Endpoint),
		DesiredState:   core.SessionState(r.DesiredState),
		ObservedState:  core.SessionState(r.ObservedState),
		LastObservedAt: p.ptr(r.LastObservedAt),
		ClaimedBy:      deref(r.ClaimedBy),
		ClaimedAt:      p.ptr(r.ClaimedAt),
		CreatedAt:      p.t(r.CreatedAt),
		UpdatedAt:      p.t(r.UpdatedAt),
		LastActiveAt:   p.t(r.LastActiveAt),
		RuntimeToken:   r.RuntimeToken,
	}
	return s, p.err
}

func (st sessionStore) CountActiveByOwner(ctx context.Context, owner string) (int64, error) {
	n, err := st.s.q.SessionCountActiveByOwner(ctx, owner)
	return n, translate(err)
}

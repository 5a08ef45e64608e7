package core

import (
	"context"
	"slices"
	"time"
)

// SandboxStatus is the externally visible state of a sandbox. It is computed
// on read from the sandbox and its current session, never stored.
type SandboxStatus string

// Sandbox statuses (lifecycle.md §3). StatusDeleted is internal: deleted
// sandboxes are not found through the API.
const (
	StatusIdle     SandboxStatus = "idle"
	StatusStarting SandboxStatus = "starting"
	StatusReady    SandboxStatus = "ready"
	StatusFailed   SandboxStatus = "failed"
	StatusExpired  SandboxStatus = "expired"
	StatusDeleted  SandboxStatus = "deleted"
)

// SandboxStatuses lists every status a filter may name.
var SandboxStatuses = []SandboxStatus{
	StatusIdle, StatusStarting, StatusReady, StatusFailed, StatusExpired, StatusDeleted,
}

// StopReason says why a sandbox's compute last stopped.
type StopReason string

// Stop reasons.
const (
	StopReasonNone  StopReason = ""
	StopReasonUser  StopReason = "user"
	StopReasonIdle  StopReason = "idle"
	StopReasonTTL   StopReason = "ttl"
	StopReasonError StopReason = "error"
)

// Sandbox is the stable handle a client holds; it survives container
// recycling. Empty strings stand for SQL NULL in the optional id fields.
type Sandbox struct {
	ID               string
	Owner            string
	ProfileID        string
	LockerID         string
	CurrentSessionID string
	ExpiresAt        *time.Time
	IdleExpiresAt    *time.Time
	DeletedAt        *time.Time
	StopReason       StopReason
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastActiveAt     time.Time

	// CurrentSessionState is the observed state of the current session as
	// read together with the sandbox, or "" when there is none. Stores fill
	// it on every read and ignore it on writes.
	CurrentSessionState SessionState
}

// Status computes the sandbox's external status at now (lifecycle.md §3).
func (s *Sandbox) Status(now time.Time) SandboxStatus {
	if s.DeletedAt != nil {
		return StatusDeleted
	}
	return liveStatus(s.Expired(now), s.CurrentSessionState)
}

// liveStatus is the status rule of lifecycle.md §3 for a sandbox that is not
// deleted, from the only two facts it reads: whether the hard TTL has passed
// and the observed state of the current session ("" for none). It is the one
// place the rule is written: a list filter is derived from it (MatchStatus)
// and stored counts are folded with it (StatusCounts), so SQL never restates it.
func liveStatus(expired bool, session SessionState) SandboxStatus {
	if expired {
		return StatusExpired
	}
	switch session {
	case SessionRunning:
		return StatusReady
	case SessionPending, SessionStarting:
		return StatusStarting
	case SessionFailed:
		return StatusFailed
	default: // no session, paused, stopping, stopped
		return StatusIdle
	}
}

// Expired reports whether the sandbox's hard TTL has passed at now.
func (s *Sandbox) Expired(now time.Time) bool {
	return s.ExpiresAt != nil && now.After(*s.ExpiresAt)
}

// SandboxFilter selects a page of one owner's live (not deleted) sandboxes.
// Build it with NewSandboxFilter, which checks the limit and turns a status
// into a StatusMatch.
type SandboxFilter struct {
	Owner string
	// Cursor returns only sandboxes whose id sorts after it; "" = from the start.
	Cursor string
	// Limit is the page size, 1..MaxPageLimit; the caller checks it
	// (CheckLimit) before it reaches a store.
	Limit int
	// Status keeps only the sandboxes it matches at Now; the zero value
	// keeps all.
	Status StatusMatch
	Now    time.Time
}

// NewSandboxFilter returns the filter for a page of owner's live sandboxes
// after cursor, at most limit long. A status that names one of
// SandboxStatuses keeps only the sandboxes with that status at now; any
// other value ("" included) keeps all. Returns validation_error if limit is
// out of bounds.
func NewSandboxFilter(owner, cursor string, limit int, status string, now time.Time) (SandboxFilter, error) {
	if err := CheckLimit(limit); err != nil {
		return SandboxFilter{}, err
	}
	f := SandboxFilter{Owner: owner, Cursor: cursor, Limit: limit, Now: now}
	for _, st := range SandboxStatuses {
		if string(st) == status {
			f.Status = MatchStatus(st)
		}
	}
	return f, nil
}

// StatusMatch is a status filter spelled as plain conditions on what a
// store reads with a live sandbox, so that a store fills a filtered page in
// SQL without knowing the status rule. When Set, a sandbox matches if both
// hold at the filter's now:
//   - its hard TTL has passed and Expired is true, or it has not and
//     Unexpired is true;
//   - it has no current session and NoSession is true, or its current
//     session's observed state is one of SessionStates.
//
// The zero StatusMatch (Set false) matches every sandbox.
type StatusMatch struct {
	Set           bool
	Expired       bool
	Unexpired     bool
	NoSession     bool
	SessionStates []SessionState
}

// MatchStatus returns the conditions that select the live sandboxes whose
// status is st. They are read off liveStatus by trying every pair of its
// inputs, so the rule is not written twice; a status no live sandbox has
// (deleted, or an unknown one) matches nothing.
func MatchStatus(st SandboxStatus) StatusMatch {
	m := StatusMatch{Set: true}
	for _, expired := range []bool{false, true} {
		for _, session := range append([]SessionState{""}, SessionStates...) {
			if liveStatus(expired, session) != st {
				continue
			}
			m.Expired = m.Expired || expired
			m.Unexpired = m.Unexpired || !expired
			if session == "" {
				m.NoSession = true
			} else if !slices.Contains(m.SessionStates, session) {
				m.SessionStates = append(m.SessionStates, session)
			}
		}
	}
	return m
}

// Matches reports whether a live sandbox whose hard TTL has (expired) or has
// not passed and whose current session is in the given observed state ("" for
// none) satisfies m: the conditions a store evaluates in SQL, in Go.
func (m StatusMatch) Matches(expired bool, session SessionState) bool {
	if !m.Set {
		return true
	}
	if (expired && !m.Expired) || (!expired && !m.Unexpired) {
		return false
	}
	if session == "" {
		return m.NoSession
	}
	return slices.Contains(m.SessionStates, session)
}

// SandboxCount is how many live sandboxes share both inputs of the status
// rule at some now: whether their hard TTL has passed, and their current
// session's observed state ("" for none).
type SandboxCount struct {
	Expired      bool
	SessionState SessionState
	N            int64
}

// StatusCounts folds the groups SandboxStore.CountByState returns into
// counts by status, with the status rule; statuses with none are absent.
func StatusCounts(counts []SandboxCount) map[SandboxStatus]int64 {
	out := make(map[SandboxStatus]int64, len(counts))
	for _, c := range counts {
		out[liveStatus(c.Expired, c.SessionState)] += c.N
	}
	return out
}

// SandboxStore persists sandboxes.
type SandboxStore interface {
	// Create inserts sb. Returns conflict if the id is taken and not_found if
	// sb.LockerID names no locker.
	Create(ctx context.Context, sb *Sandbox) error
	// Get returns the sandbox with the given id, deleted or not. Returns
	// not_found if there is none.
	Get(ctx context.Context, id string) (*Sandbox, error)
	// GetForOwner returns owner's live sandbox with the given id. Returns
	// not_found if there is none, it is deleted, or it belongs to another owner.
	GetForOwner(ctx context.Context, owner, id string) (*Sandbox, error)
	// GetForUpdate is Get that also locks the row until the end of the
	// enclosing transaction (Store.InTx). Returns not_found if there is none.
	GetForUpdate(ctx context.Context, id string) (*Sandbox, error)
	// Save writes every mutable field of sb (everything but ID, Owner,
	// CreatedAt) and sets sb.UpdatedAt from sb's own value. Returns not_found
	// if the row does not exist.
	Save(ctx context.Context, sb *Sandbox) error
	// List returns a page of f.Owner's live sandboxes that f.Status matches
	// at f.Now, ordered by id; f.Limit is within bounds (NewSandboxFilter).
	List(ctx context.Context, f SandboxFilter) ([]*Sandbox, error)
	// ListIdleDue returns the ids of live sandboxes whose idle deadline is
	// before now, ordered by id.
	ListIdleDue(ctx context.Context, now time.Time) ([]string, error)
	// ListPauseDue returns the ids of the profile's live sandboxes whose
	// current session is observed running and whose idle deadline is at or
	// before before, ordered by id: the candidates for idle_pause.
	ListPauseDue(ctx context.Context, profileID string, before time.Time) ([]string, error)
	// ListExpiredDue returns the ids of live sandboxes whose hard TTL is
	// before now, ordered by id.
	ListExpiredDue(ctx context.Context, now time.Time) ([]string, error)
	// ListByLocker returns the ids of live sandboxes that mount the locker,
	// ordered by id.
	ListByLocker(ctx context.Context, lockerID string) ([]string, error)
	// CountByState counts the live sandboxes of every owner grouped by
	// whether their hard TTL has passed at now and by their current
	// session's observed state; groups with none are absent. StatusCounts
	// folds the groups into statuses.
	CountByState(ctx context.Context, now time.Time) ([]SandboxCount, error)
	// CountByOwner returns how many live (not deleted) sandboxes owner has.
	CountByOwner(ctx context.Context, owner string) (int64, error)
}

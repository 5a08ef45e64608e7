package core

import (
	"context"
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
	switch {
	case s.DeletedAt != nil:
		return StatusDeleted
	case s.ExpiresAt != nil && now.After(*s.ExpiresAt):
		return StatusExpired
	}
	switch s.CurrentSessionState {
	case "":
		return StatusIdle
	case SessionRunning:
		return StatusReady
	case SessionPending, SessionStarting:
		return StatusStarting
	case SessionFailed:
		return StatusFailed
	default:
		return StatusIdle
	}
}

// Expired reports whether the sandbox's hard TTL has passed at now.
func (s *Sandbox) Expired(now time.Time) bool {
	return s.ExpiresAt != nil && now.After(*s.ExpiresAt)
}

// SandboxFilter selects a page of one owner's live (not deleted) sandboxes.
type SandboxFilter struct {
	Owner string
	// Cursor returns only sandboxes whose id sorts after it; "" = from the start.
	Cursor string
	// Limit is the page size, 1..MaxPageLimit.
	Limit int
	// Status, when one of SandboxStatuses, keeps only sandboxes with that
	// computed status at Now; "" keeps all.
	Status SandboxStatus
	Now    time.Time
}

// SandboxStore persists sandboxes.
type SandboxStore interface {
	// Create inserts sb. When managed is not nil, the managed locker row is
	// inserted first in the same transaction: either both rows exist
	// afterwards or neither does. Returns conflict if an id is taken and
	// not_found if sb.LockerID names no locker.
	Create(ctx context.Context, sb *Sandbox, managed *Locker) error
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
	// Update loads the sandbox with its row locked, applies fn and saves the
	// result, in one transaction. Returns not_found if there is none; an
	// error from fn is returned as is and nothing is saved.
	Update(ctx context.Context, id string, fn func(*Sandbox) error) (*Sandbox, error)
	// List returns a page of f.Owner's live sandboxes ordered by id. Returns
	// validation_error if f.Limit is out of bounds.
	List(ctx context.Context, f SandboxFilter) ([]*Sandbox, error)
	// ListIdleDue returns the ids of live sandboxes whose idle deadline is
	// before now, ordered by id.
	ListIdleDue(ctx context.Context, now time.Time) ([]string, error)
	// ListExpiredDue returns the ids of live sandboxes whose hard TTL is
	// before now, ordered by id.
	ListExpiredDue(ctx context.Context, now time.Time) ([]string, error)
	// ListByLocker returns the ids of live sandboxes that mount the locker,
	// ordered by id.
	ListByLocker(ctx context.Context, lockerID string) ([]string, error)
	// CountByStatus counts live sandboxes of every owner by their status at
	// now; statuses with none are absent.
	CountByStatus(ctx context.Context, now time.Time) (map[SandboxStatus]int64, error)
	// CountByOwner returns how many live (not deleted) sandboxes owner has.
	CountByOwner(ctx context.Context, owner string) (int64, error)
}

// StatusFilter returns the status a store filters on: f.Status when it names
// a status, "" (no filter) for any other value. ok is false when the filter
// can match nothing (deleted sandboxes are never listed).
func (f SandboxFilter) StatusFilter() (status string, ok bool) {
	for _, st := range SandboxStatuses {
		if f.Status == st {
			return string(st), st != StatusDeleted
		}
	}
	return "", true
}

// UpdateSandbox implements SandboxStore.Update for any Store: it loads the
// sandbox with its row locked, applies fn, saves and re-reads it, in one
// transaction. Both store adapters delegate to it.
func UpdateSandbox(ctx context.Context, s Store, id string, fn func(*Sandbox) error) (*Sandbox, error) {
	var out *Sandbox
	err := s.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(sb); err != nil {
			return err
		}
		if err := tx.Sandboxes().Save(ctx, sb); err != nil {
			return err
		}
		out, err = tx.Sandboxes().Get(ctx, id)
		return err
	})
	return out, err
}

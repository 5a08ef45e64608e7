package core

import (
	"context"
	"time"
)

// LockerBackendDockerVolume is the only locker backend.
const LockerBackendDockerVolume = "docker_volume"

// MountPath is where every runtime container sees its locker.
const MountPath = "/workspace"

// Locker is the persistent data volume mounted at /workspace in every
// container of the sandboxes using it. It is not a lock.
type Locker struct {
	ID      string
	Owner   string
	Backend string
	// DriverRef is the backend's name for the volume (bay-<id> on Docker).
	DriverRef string
	// Managed lockers are created implicitly for one sandbox and deleted
	// with it; external ones are created through the API and outlive them.
	Managed            bool
	ManagedBySandboxID string
	SizeLimitMB        int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
	LastAccessedAt     time.Time
}

// VolumeName returns the Docker volume name of a locker id.
func VolumeName(lockerID string) string { return "bay-" + lockerID }

// ContainerName returns the name of a session's runtime container.
func ContainerName(sessionID string) string { return "bay-session-" + sessionID }

// LockerFilter selects a page of one owner's lockers.
type LockerFilter struct {
	Owner   string
	Managed bool
	Cursor  string
	// Limit is the page size, 1..MaxPageLimit; the caller checks it
	// (CheckLimit) before it reaches a store.
	Limit int
}

// LockerStore persists lockers.
type LockerStore interface {
	// Create inserts l. Returns conflict if the id is taken.
	Create(ctx context.Context, l *Locker) error
	// Get returns the locker with the given id, whatever its owner. Returns
	// not_found if there is none.
	Get(ctx context.Context, id string) (*Locker, error)
	// GetForOwner returns owner's locker with the given id. Returns not_found
	// if there is none or it belongs to another owner.
	GetForOwner(ctx context.Context, owner, id string) (*Locker, error)
	// List returns a page of f.Owner's lockers with the given managed flag,
	// ordered by id; f.Limit is within bounds (CheckLimit).
	List(ctx context.Context, f LockerFilter) ([]*Locker, error)
	// Touch sets last_accessed_at. Returns not_found if there is no locker.
	Touch(ctx context.Context, id string, at time.Time) error
	// Delete removes the locker row; sandboxes that referenced it keep a
	// NULL locker id. Returns not_found if there is none.
	Delete(ctx context.Context, id string) error
	// ListOrphans returns managed lockers whose managing sandbox is unset or
	// soft-deleted, ordered by id. A managed locker whose sandbox row does
	// not exist at all is not an orphan (its sandbox may be mid-create).
	ListOrphans(ctx context.Context) ([]*Locker, error)
	// UsageByOwner returns how many lockers owner has and the sum of their
	// size limits.
	UsageByOwner(ctx context.Context, owner string) (LockerUsage, error)
}

// SizeEnforcement says which lockers the runtime holds to their size
// limit (locker.enforce_size_limits); the others record it only.
type SizeEnforcement string

// Size enforcement modes.
const (
	// EnforceNone records every limit only.
	EnforceNone SizeEnforcement = "off"
	// EnforceExplicit holds lockers created with an explicit
	// size_limit_mb; lockers sized by the default (managed ones among
	// them) record it only.
	EnforceExplicit SizeEnforcement = "explicit"
	// EnforceAll holds every new locker to its limit.
	EnforceAll SizeEnforcement = "all"
)

// Enforces reports whether a new locker is held to its limit; explicit
// says whether the creator chose the size.
func (e SizeEnforcement) Enforces(explicit bool) bool {
	return e == EnforceAll || (e == EnforceExplicit && explicit)
}

// LockerUsage is what an owner's lockers take.
type LockerUsage struct {
	Count   int64
	TotalMB int64
}

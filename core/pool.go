package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// PoolEntryState is where a warm-pool entry stands.
type PoolEntryState string

// Pool entry states: an entry is inserted filling (its ids reserved, its
// containers being started) and becomes ready once its runtimes answer and
// the kernel is warm. Only ready entries are claimed. An entry being
// dropped is retired to dropping first, and its row deleted only once its
// containers and volume are gone, so a failed removal is retried.
const (
	PoolFilling  PoolEntryState = "filling"
	PoolReady    PoolEntryState = "ready"
	PoolDropping PoolEntryState = "dropping"
)

// PoolEntryIDPrefix starts the id of every warm-pool entry.
const PoolEntryIDPrefix = "pool-"

// PoolEntry is one warm runtime of a profile, started ahead of any sandbox:
// the ids of the sandbox, session and managed locker it will become are
// reserved when it is inserted, so that its containers and volume carry
// them from the start. A claim deletes the entry in the transaction that
// creates those rows; an entry is never handed out twice, and its volume
// never outlives a claim as anything but that sandbox's locker.
type PoolEntry struct {
	ID        string
	ProfileID string
	// ProfileKey fingerprints the profile the entry was started with
	// (ProfileKey): a configuration change retires the entry.
	ProfileKey   string
	SandboxID    string
	SessionID    string
	LockerID     string
	RuntimeToken string
	// Containers are the entry's containers in profile order, as recorded
	// so far (ids as created, endpoints once started).
	Containers []SessionContainer
	State      PoolEntryState
	// InstanceID is the Bay process that fills the entry: its containers
	// carry it, and a crash of that process before the entry is ready
	// leaves it to that process's next start (or to the abandon timeout).
	InstanceID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ContainerIDs returns the ids of the entry's containers created so far.
func (e *PoolEntry) ContainerIDs() []string {
	var out []string
	for _, c := range e.Containers {
		if c.ContainerID != "" {
			out = append(out, c.ContainerID)
		}
	}
	return out
}

// PoolStore persists the warm pool (PoolEntry).
type PoolStore interface {
	// Insert adds a new entry.
	Insert(ctx context.Context, e *PoolEntry) error
	// Save writes the entry's containers, state and updated_at. Returns
	// not_found when the entry is gone (claimed meanwhile) or retired.
	Save(ctx context.Context, e *PoolEntry) error
	// Retire sets the entry dropping (no claim takes it any more) at now.
	// Returns not_found when it is gone or dropping already: only the
	// caller that retired an entry removes its containers and volume.
	Retire(ctx context.Context, id string, now time.Time) error
	// Claim deletes and returns the oldest ready entry of the profile with
	// the given key, or not_found when there is none. Two transactions,
	// in this process or another, never claim the same entry; on Postgres
	// one does not wait for an entry another has claimed but not yet
	// committed, it takes the next.
	Claim(ctx context.Context, profileID, profileKey string) (*PoolEntry, error)
	// Delete removes the entry's row; not_found when it is gone.
	Delete(ctx context.Context, id string) error
	// List returns every entry, oldest first.
	List(ctx context.Context) ([]*PoolEntry, error)
	// GetBySession returns the entry whose reserved session id is
	// sessionID, or not_found.
	GetBySession(ctx context.Context, sessionID string) (*PoolEntry, error)
}

// ProfileKey fingerprints everything of p that shapes the runtime a warm
// entry starts: any change to it (image, resources, environment, network,
// containers) gives another key.
func ProfileKey(p *Profile) string {
	// What decides when a runtime stops or how many are kept does not
	// shape the runtime itself.
	shape := *p
	shape.IdleTimeout, shape.IdlePause, shape.WarmPool = 0, 0, 0
	raw, err := json.Marshal(shape)
	if err != nil {
		// A profile is plain data: Marshal does not fail on it. Were it to,
		// an empty key matches no entry, so nothing stale is handed out.
		return ""
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

package core

import "context"

// Store is the unit of work over every persistent port. Adapters (SQLite,
// Postgres) implement it; services reach the individual ports through it.
type Store interface {
	Sandboxes() SandboxStore
	Sessions() SessionStore
	Lockers() LockerStore
	Idempotency() IdempotencyStore
	Executions() ExecutionStore
	// WarmPool persists the warm pool of started runtimes.
	WarmPool() PoolStore

	// InTx runs fn in one transaction. The Store passed to fn is bound to
	// that transaction: everything fn writes through it is committed when fn
	// returns nil and rolled back otherwise, and the error from fn is
	// returned as is. Rows read with a ForUpdate method stay locked against
	// other transactions (in this process or another) until the end of fn.
	// Calling InTx on a Store that is already bound to a transaction runs fn
	// in that same transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error

	// LockOwner serialises, until the end of the transaction it must be
	// called in, every transaction that checks owner's quotas, in this
	// process or another: two creates cannot both take the last free slot.
	LockOwner(ctx context.Context, owner string) error

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database handle.
	Close() error
}

// Page bounds for list operations (bay-api.md §4).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// CheckLimit returns a validation_error unless 1 <= limit <= MaxPageLimit.
// Services call it before a store's List, which takes the limit as given.
func CheckLimit(limit int) error {
	if limit < 1 || limit > MaxPageLimit {
		return Invalid("limit must be between 1 and %d", MaxPageLimit).
			WithDetails(map[string]any{"limit": limit})
	}
	return nil
}

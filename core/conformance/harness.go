package conformance

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// Harness describes the store under test.
type Harness struct {
	// New returns a fresh, migrated, empty store; it registers its own cleanup.
	New func(t *testing.T) core.Store
	// TextHoldsNUL says whether the engine's text columns can hold a NUL
	// byte. SQLite can; Postgres text cannot, and its store must then answer
	// validation_error instead of storing something else.
	TextHoldsNUL bool
}

// Run runs every store suite.
func Run(t *testing.T, h Harness) {
	t.Run("SandboxStore", func(t *testing.T) { RunSandboxStore(t, h) })
	t.Run("SessionStore", func(t *testing.T) { RunSessionStore(t, h) })
	t.Run("LockerStore", func(t *testing.T) { RunLockerStore(t, h) })
	t.Run("IdempotencyStore", func(t *testing.T) { RunIdempotencyStore(t, h) })
	t.Run("ExecutionStore", func(t *testing.T) { RunExecutionStore(t, h) })
	t.Run("PoolStore", func(t *testing.T) { RunPoolStore(t, h) })
	t.Run("Transactions", func(t *testing.T) { RunTransactions(t, h) })
}

var seq atomic.Int64

// id returns a unique id with the given prefix, shaped like Bay's own.
func id(prefix string) string {
	return fmt.Sprintf("%s%012x", prefix, seq.Add(1))
}

// base is a fixed instant with a non-zero microsecond part.
var base = time.Date(2026, 1, 30, 7, 0, 0, 123456000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func ptr[T any](v T) *T { return &v }

func newLocker(owner string, managedBy string) *core.Locker {
	lid := id(core.LockerIDPrefix)
	return &core.Locker{
		ID:                 lid,
		Owner:              owner,
		Backend:            core.LockerBackendDockerVolume,
		DriverRef:          core.VolumeName(lid),
		Managed:            managedBy != "",
		ManagedBySandboxID: managedBy,
		SizeLimitMB:        1024,
		CreatedAt:          base,
		UpdatedAt:          base,
		LastAccessedAt:     base,
	}
}

func newSandbox(owner, lockerID string) *core.Sandbox {
	return &core.Sandbox{
		ID:           id(core.SandboxIDPrefix),
		Owner:        owner,
		ProfileID:    "python-default",
		LockerID:     lockerID,
		Version:      1,
		CreatedAt:    base,
		UpdatedAt:    base,
		LastActiveAt: base,
	}
}

func newSession(sandboxID string, desired, observed core.SessionState) *core.Session {
	return &core.Session{
		ID:            id(core.SessionIDPrefix),
		SandboxID:     sandboxID,
		RuntimeType:   core.RuntimeTypeShip,
		ProfileID:     "python-default",
		DesiredState:  desired,
		ObservedState: observed,
		CreatedAt:     base,
		UpdatedAt:     base,
		LastActiveAt:  base,
	}
}

// createSandbox stores a sandbox with its own managed locker.
func createSandbox(t *testing.T, s core.Store, owner string) *core.Sandbox {
	t.Helper()
	sb := newSandbox(owner, "")
	l := newLocker(owner, sb.ID)
	sb.LockerID = l.ID
	require.NoError(t, createWithLocker(context.Background(), s, sb, l))
	return sb
}

// createWithLocker inserts the managed locker l, when not nil, and then sb,
// in one transaction, as SandboxService.Create composes them.
func createWithLocker(ctx context.Context, s core.Store, sb *core.Sandbox, l *core.Locker) error {
	return s.InTx(ctx, func(tx core.Store) error {
		if l != nil {
			if err := tx.Lockers().Create(ctx, l); err != nil {
				return err
			}
		}
		return tx.Sandboxes().Create(ctx, sb)
	})
}

// update is the read-modify-write every service composes: in one
// transaction, load the sandbox with its row locked, apply fn and save.
func update(ctx context.Context, s core.Store, id string, fn func(*core.Sandbox)) error {
	return s.InTx(ctx, func(tx core.Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		fn(sb)
		return tx.Sandboxes().Save(ctx, sb)
	})
}

func requireCode(t *testing.T, want core.Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, core.CodeOf(err), "error: %v", err)
}

// hostile are strings that break string-built SQL or naive encodings.
func hostile(withNUL bool) []string {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	out := []string{
		"' OR 1=1 --",
		"'; DROP TABLE sandboxes; --",
		`"; DROP TABLE lockers; --`,
		"Robert'); DELETE FROM sessions; --",
		"%_\\%",
		"ünïcødé ✓ 沙箱 🚀",
		"\u202etxt.exe",
		string(big),
	}
	if withNUL {
		out = append(out, "nul\x00byte", "\x00")
	}
	return out
}

package core_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

// readCounter counts the reads of sandbox rows, in and out of transactions.
type readCounter struct {
	core.Store
	reads *atomic.Int64
}

func (s readCounter) Sandboxes() core.SandboxStore {
	return countedSandboxes{SandboxStore: s.Store.Sandboxes(), reads: s.reads}
}

func (s readCounter) InTx(ctx context.Context, fn func(tx core.Store) error) error {
	return s.Store.InTx(ctx, func(tx core.Store) error { return fn(readCounter{Store: tx, reads: s.reads}) })
}

type countedSandboxes struct {
	core.SandboxStore
	reads *atomic.Int64
}

func (s countedSandboxes) Get(ctx context.Context, id string) (*core.Sandbox, error) {
	s.reads.Add(1)
	return s.SandboxStore.Get(ctx, id)
}

func (s countedSandboxes) GetForOwner(ctx context.Context, owner, id string) (*core.Sandbox, error) {
	s.reads.Add(1)
	return s.SandboxStore.GetForOwner(ctx, owner, id)
}

func (s countedSandboxes) GetForUpdate(ctx context.Context, id string) (*core.Sandbox, error) {
	s.reads.Add(1)
	return s.SandboxStore.GetForUpdate(ctx, id)
}

// TestSandboxService_CallReadsSandboxOnce pins that a capability call on a
// running session reads its sandbox row once: the checks before the start
// run on the row the claim locks, not on a read of their own.
func TestSandboxService_CallReadsSandboxOnce(t *testing.T) {
	t.Parallel()
	var reads atomic.Int64
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	svc, b := newInstance(t, readCounter{Store: openStore(t), reads: &reads},
		fake.NewRuntime(fake.RuntimeOptions{Clock: clock}), fake.NewShip(), clock, "bay-a")
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30) // starts the session
	require.NoError(t, err)

	calls := map[string]func() error{
		"python": func() error { _, err := svc.Python(b.ctx, "alice", sb.ID, "1", 30); return err },
		"shell": func() error {
			cwd := "sub/.."
			_, err := svc.Shell(b.ctx, "alice", sb.ID, core.ShellInput{Command: "ls", Timeout: 5, Cwd: &cwd})
			return err
		},
		"write": func() error { return svc.WriteFile(b.ctx, "alice", sb.ID, "a.txt", "x") },
	}
	for name, call := range calls {
		reads.Store(0)
		require.NoError(t, call(), name)
		require.EqualValues(t, 1, reads.Load(), "%s reads the sandbox once", name)
	}

	// The checks still come in the pipeline's order, each before anything
	// is started, and a refused call still reads once.
	before := b.runtime.Calls(fake.OpCreateContainer)
	reads.Store(0)
	_, err = svc.Python(b.ctx, "bob", sb.ID, "1", 30)
	requireCode(t, core.CodeNotFound, err)
	require.EqualValues(t, 1, reads.Load())
	_, err = svc.Python(b.ctx, "alice", "sandbox-000000000000", "1", 30)
	requireCode(t, core.CodeNotFound, err)
	_, err = svc.ReadFile(b.ctx, "alice", sb.ID, "/etc/passwd")
	requireCode(t, core.CodeInvalidPath, err)
	require.NoError(t, svc.Delete(b.ctx, "alice", sb.ID))
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
	requireCode(t, core.CodeNotFound, err)
	require.Equal(t, before, b.runtime.Calls(fake.OpCreateContainer))
}

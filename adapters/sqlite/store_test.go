package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/sqlite"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bay.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(ctx))
	return s
}

func TestStore_Conformance(t *testing.T) {
	t.Parallel()
	conformance.Run(t, conformance.Harness{
		New:          func(t *testing.T) core.Store { return newStore(t) },
		TextHoldsNUL: true,
	})
}

func TestStore_InMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, ":memory:")
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Ping(ctx))
}

func TestStore_MigrateDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	p, err := s.Migrations()
	require.NoError(t, err)
	v, err := p.GetDBVersion(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 5, v, "every migration applied")
	_, err = p.DownTo(ctx, 0)
	require.NoError(t, err)
	v, err = p.GetDBVersion(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 0, v)
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx), "migrating twice is a no-op")
}

func FuzzStore_List(f *testing.F) {
	conformance.FuzzList(f, newStore(f))
}

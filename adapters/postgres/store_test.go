package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/postgres"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
	"github.com/bayhq/bay/internal/testenv"
)

// newStore returns a store on a fresh schema of the database named by
// BAY_TEST_POSTGRES_URL, migrated, and dropped when the test ends.
func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	base := os.Getenv("BAY_TEST_POSTGRES_URL")
	if base == "" {
		testenv.Skipf(t, "BAY_TEST_POSTGRES_URL is not set: no Postgres to test against")
	}
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])

	admin, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		_ = admin.Close(context.Background())
	})

	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	s, err := postgres.Open(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(ctx))
	return s
}

func TestStore_Conformance(t *testing.T) {
	t.Parallel()
	conformance.Run(t, conformance.Harness{
		New:          func(t *testing.T) core.Store { return newStore(t) },
		TextHoldsNUL: false,
	})
}

func TestStore_MigrateDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	p, sqldb, err := s.Migrations()
	require.NoError(t, err)
	defer sqldb.Close()
	_, err = p.DownTo(ctx, 0)
	require.NoError(t, err)
	v, err := p.GetDBVersion(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 0, v)
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx), "migrating twice is a no-op")
}

func FuzzStore_List(f *testing.F) {
	conformance.FuzzList(f, newStore(f))
}

package conformance

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func newPoolEntry(profile, key string, state core.PoolEntryState, created time.Time) *core.PoolEntry {
	return &core.PoolEntry{
		ID: id(core.PoolEntryIDPrefix), ProfileID: profile, ProfileKey: key,
		SandboxID: id(core.SandboxIDPrefix), SessionID: id(core.SessionIDPrefix), LockerID: id(core.LockerIDPrefix),
		RuntimeToken: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Containers: []core.SessionContainer{{
			Name: "ship", RuntimeType: core.RuntimeTypeShip, Port: 8123,
			Capabilities: []string{"python", "shell"}, CreatedAt: created, UpdatedAt: created,
		}},
		State: state, InstanceID: "bay-1", CreatedAt: created, UpdatedAt: created,
	}
}

// RunPoolStore tests a core.PoolStore.
func RunPoolStore(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("InsertSaveList/RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		e := newPoolEntry("python-default", "k1", core.PoolFilling, at(0))
		require.NoError(t, s.WarmPool().Insert(ctx, e))
		requireCode(t, core.CodeConflict, s.WarmPool().Insert(ctx, e))

		e.Containers[0].ContainerID = "0123456789abcdef"
		e.Containers[0].Endpoint = "http://127.0.0.1:32768"
		e.Containers[0].UpdatedAt = at(time.Second)
		e.State = core.PoolReady
		e.UpdatedAt = at(time.Second)
		require.NoError(t, s.WarmPool().Save(ctx, e))
		list, err := s.WarmPool().List(ctx)
		require.NoError(t, err)
		require.Equal(t, []*core.PoolEntry{e}, list)
		got, err := s.WarmPool().GetBySession(ctx, e.SessionID)
		require.NoError(t, err)
		require.Equal(t, e, got)
		require.Equal(t, []string{"0123456789abcdef"}, got.ContainerIDs())
	})

	t.Run("MissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		_, err := s.WarmPool().GetBySession(ctx, "sess-ffffffffffff")
		requireCode(t, core.CodeNotFound, err)
		requireCode(t, core.CodeNotFound, s.WarmPool().Save(ctx, newPoolEntry("p", "k", core.PoolReady, at(0))))
		_, err = s.WarmPool().Claim(ctx, "p", "k")
		requireCode(t, core.CodeNotFound, err)
		requireCode(t, core.CodeNotFound, s.WarmPool().Delete(ctx, "pool-ffffffffffff"))
	})

	t.Run("Claim/OldestReadyOfProfileAndKeyOnly", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		filling := newPoolEntry("p", "k", core.PoolFilling, at(0))
		otherKey := newPoolEntry("p", "old", core.PoolReady, at(time.Second))
		otherProfile := newPoolEntry("q", "k", core.PoolReady, at(2*time.Second))
		newer := newPoolEntry("p", "k", core.PoolReady, at(4*time.Second))
		older := newPoolEntry("p", "k", core.PoolReady, at(3*time.Second))
		for _, e := range []*core.PoolEntry{filling, otherKey, otherProfile, newer, older} {
			require.NoError(t, s.WarmPool().Insert(ctx, e))
		}
		got, err := s.WarmPool().Claim(ctx, "p", "k")
		require.NoError(t, err)
		require.Equal(t, older, got)
		got, err = s.WarmPool().Claim(ctx, "p", "k")
		require.NoError(t, err)
		require.Equal(t, newer.ID, got.ID)
		_, err = s.WarmPool().Claim(ctx, "p", "k")
		requireCode(t, core.CodeNotFound, err) // a filling entry, or one of another key or profile, is never claimed
		list, err := s.WarmPool().List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 3, "claimed entries are gone")

		require.NoError(t, s.WarmPool().Delete(ctx, otherKey.ID))
		requireCode(t, core.CodeNotFound, s.WarmPool().Delete(ctx, otherKey.ID)) // only one caller deletes it
		requireCode(t, core.CodeNotFound, s.WarmPool().Save(ctx, otherKey))      // a deleted entry cannot be saved back
	})

	t.Run("Retire/NoClaimNoSave", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		e := newPoolEntry("p", "k", core.PoolReady, at(0))
		require.NoError(t, s.WarmPool().Insert(ctx, e))
		require.NoError(t, s.WarmPool().Retire(ctx, e.ID, at(time.Minute)))
		requireCode(t, core.CodeNotFound, s.WarmPool().Retire(ctx, e.ID, at(time.Minute))) // one caller retires it
		requireCode(t, core.CodeNotFound, s.WarmPool().Save(ctx, e))                       // a fill cannot bring it back
		_, err := s.WarmPool().Claim(ctx, "p", "k")
		requireCode(t, core.CodeNotFound, err)
		got, err := s.WarmPool().GetBySession(ctx, e.SessionID)
		require.NoError(t, err)
		require.Equal(t, core.PoolDropping, got.State)
		require.Equal(t, at(time.Minute), got.UpdatedAt)
		require.NoError(t, s.WarmPool().Delete(ctx, e.ID))
		requireCode(t, core.CodeNotFound, s.WarmPool().Retire(ctx, e.ID, at(time.Minute)))
	})

	t.Run("Claim/RolledBackClaimKeepsTheEntry", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		e := newPoolEntry("p", "k", core.PoolReady, at(0))
		require.NoError(t, s.WarmPool().Insert(ctx, e))
		err := s.InTx(ctx, func(tx core.Store) error {
			got, err := tx.WarmPool().Claim(ctx, "p", "k")
			require.NoError(t, err)
			require.Equal(t, e.ID, got.ID)
			return core.Conflict("give up")
		})
		requireCode(t, core.CodeConflict, err)
		got, err := s.WarmPool().Claim(ctx, "p", "k")
		require.NoError(t, err)
		require.Equal(t, e.ID, got.ID)
	})

	t.Run("Claim/ConcurrentClaimsNeverShareAnEntry", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		const entries, claimers = 6, 12
		for i := range entries {
			require.NoError(t, s.WarmPool().Insert(ctx, newPoolEntry("p", "k", core.PoolReady, at(time.Duration(i)*time.Second))))
		}
		var (
			mu      sync.Mutex
			claimed = map[string]int{}
			misses  int
			wg      sync.WaitGroup
		)
		for range claimers {
			wg.Go(func() {
				var got *core.PoolEntry
				err := s.InTx(ctx, func(tx core.Store) error {
					e, err := tx.WarmPool().Claim(ctx, "p", "k")
					if err != nil {
						return err
					}
					got = e
					time.Sleep(20 * time.Millisecond) // hold the claim while others try
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				if core.CodeOf(err) == core.CodeNotFound {
					misses++
					return
				}
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				claimed[got.ID]++
			})
		}
		wg.Wait()
		require.Len(t, claimed, entries, "every entry is claimed")
		for id, n := range claimed {
			require.Equal(t, 1, n, "entry %s claimed %d times", id, n)
		}
		require.Equal(t, claimers-entries, misses)
	})
}

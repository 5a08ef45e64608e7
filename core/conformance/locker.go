package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// RunLockerStore tests a core.LockerStore.
func RunLockerStore(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("CreateGetTouchDelete", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		l := newLocker("alice", "")
		l.SizeLimitMB = 65536
		require.NoError(t, s.Lockers().Create(ctx, l))
		got, err := s.Lockers().Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, l, got)
		got, err = s.Lockers().GetForOwner(ctx, "alice", l.ID)
		require.NoError(t, err)
		require.Equal(t, l, got)

		require.NoError(t, s.Lockers().Touch(ctx, l.ID, at(time.Hour)))
		got, err = s.Lockers().Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, at(time.Hour), got.LastAccessedAt)

		require.NoError(t, s.Lockers().Delete(ctx, l.ID))
		_, err = s.Lockers().Get(ctx, l.ID)
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("NotFoundAndConflict", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		l := newLocker("alice", "")
		require.NoError(t, s.Lockers().Create(ctx, l))
		requireCode(t, core.CodeConflict, s.Lockers().Create(ctx, l))
		_, err := s.Lockers().GetForOwner(ctx, "bob", l.ID)
		requireCode(t, core.CodeNotFound, err)
		_, err = s.Lockers().Get(ctx, "locker-ffffffffffff")
		requireCode(t, core.CodeNotFound, err)
		requireCode(t, core.CodeNotFound, s.Lockers().Touch(ctx, "locker-ffffffffffff", base))
		requireCode(t, core.CodeNotFound, s.Lockers().Delete(ctx, "locker-ffffffffffff"))
	})

	t.Run("Delete/SandboxesKeepNullLocker", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		require.NoError(t, s.Lockers().Delete(ctx, sb.LockerID))
		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.Empty(t, got.LockerID)
	})

	t.Run("List/ManagedFilterPaginationAndBounds", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		var external []string
		for range 5 {
			l := newLocker("alice", "")
			require.NoError(t, s.Lockers().Create(ctx, l))
			external = append(external, l.ID)
		}
		managed := createSandbox(t, s, "alice").LockerID
		require.NoError(t, s.Lockers().Create(ctx, newLocker("bob", "")))

		var got []string
		cursor := ""
		for {
			page, err := s.Lockers().List(ctx, core.LockerFilter{Owner: "alice", Cursor: cursor, Limit: 2})
			require.NoError(t, err)
			for _, l := range page {
				require.False(t, l.Managed)
				got = append(got, l.ID)
			}
			if len(page) < 2 {
				break
			}
			cursor = page[len(page)-1].ID
		}
		require.Equal(t, external, got)

		page, err := s.Lockers().List(ctx, core.LockerFilter{Owner: "alice", Managed: true, Limit: 10})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, managed, page[0].ID)

		page, err = s.Lockers().List(ctx, core.LockerFilter{Owner: "alice", Limit: core.MaxPageLimit})
		require.NoError(t, err)
		require.Len(t, page, len(external))
	})

	t.Run("ListOrphans/OnlyManagedWithGoneSandbox", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		live := createSandbox(t, s, "alice")
		deleted := createSandbox(t, s, "alice")
		require.NoError(t, update(ctx, s, deleted.ID, func(sb *core.Sandbox) { sb.DeletedAt = ptr(base) }))
		unbound := newLocker("alice", "")
		unbound.Managed = true
		require.NoError(t, s.Lockers().Create(ctx, unbound))
		midCreate := newLocker("alice", "sandbox-ffffffffffff") // sandbox row not there yet
		require.NoError(t, s.Lockers().Create(ctx, midCreate))
		external := newLocker("alice", "")
		require.NoError(t, s.Lockers().Create(ctx, external))

		orphans, err := s.Lockers().ListOrphans(ctx)
		require.NoError(t, err)
		var ids []string
		for _, l := range orphans {
			ids = append(ids, l.ID)
		}
		require.ElementsMatch(t, []string{deleted.LockerID, unbound.ID}, ids)
		require.NotContains(t, ids, live.LockerID)
	})
}

package conformance

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// RunSandboxStore tests a core.SandboxStore.
func RunSandboxStore(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("Create/RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := newSandbox("alice", "")
		l := newLocker("alice", sb.ID)
		sb.LockerID = l.ID
		sb.ExpiresAt = ptr(at(time.Hour))
		sb.IdleExpiresAt = ptr(at(30 * time.Minute))
		sb.StopReason = core.StopReasonIdle
		sb.Version = 3
		sb.LastActiveAt = at(time.Second)
		require.NoError(t, createWithLocker(ctx, s, sb, l))

		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, sb, got)
		gotL, err := s.Lockers().Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, l, gotL)
	})

	t.Run("Create/DuplicateIDIsConflict", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		dup := newSandbox("bob", sb.LockerID)
		dup.ID = sb.ID
		requireCode(t, core.CodeConflict, s.Sandboxes().Create(ctx, dup))
	})

	t.Run("Create/UnknownLockerIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := newSandbox("alice", "locker-000000000000")
		requireCode(t, core.CodeNotFound, s.Sandboxes().Create(ctx, sb))
		_, err := s.Sandboxes().Get(ctx, sb.ID)
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("Create/FailureLeavesNoManagedLocker", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		first := createSandbox(t, s, "alice")
		// Same sandbox id again with a new managed locker, in one
		// transaction: the locker insert succeeds, the sandbox insert fails,
		// and the locker must go too.
		again := newSandbox("alice", "")
		again.ID = first.ID
		l := newLocker("alice", again.ID)
		again.LockerID = l.ID
		requireCode(t, core.CodeConflict, createWithLocker(ctx, s, again, l))
		_, err := s.Lockers().Get(ctx, l.ID)
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("Get/MissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		_, err := s.Sandboxes().Get(ctx, "sandbox-ffffffffffff")
		requireCode(t, core.CodeNotFound, err)
		_, err = s.Sandboxes().GetForOwner(ctx, "alice", "sandbox-ffffffffffff")
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("GetForOwner/OtherOwnerAndDeletedAreNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		got, err := s.Sandboxes().GetForOwner(ctx, "alice", sb.ID)
		require.NoError(t, err)
		require.Equal(t, sb.ID, got.ID)
		_, err = s.Sandboxes().GetForOwner(ctx, "bob", sb.ID)
		requireCode(t, core.CodeNotFound, err)

		require.NoError(t, update(ctx, s, sb.ID, func(sb *core.Sandbox) { sb.DeletedAt = ptr(at(time.Minute)) }))
		_, err = s.Sandboxes().GetForOwner(ctx, "alice", sb.ID)
		requireCode(t, core.CodeNotFound, err)
		got, err = s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err, "Get still sees deleted sandboxes")
		require.Equal(t, core.StatusDeleted, got.Status(base))
	})

	t.Run("Save/MissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		requireCode(t, core.CodeNotFound, s.Sandboxes().Save(ctx, newSandbox("alice", "")))
	})

	t.Run("ReadModifyWrite/AppliesAndSaves", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		require.NoError(t, update(ctx, s, sb.ID, func(sb *core.Sandbox) {
			sb.ExpiresAt = ptr(at(2 * time.Hour))
			sb.IdleExpiresAt = ptr(at(time.Minute))
			sb.CurrentSessionID = "sess-000000000001"
			sb.UpdatedAt = at(time.Minute)
		}))
		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, at(2*time.Hour), *got.ExpiresAt)
		require.Equal(t, at(time.Minute), *got.IdleExpiresAt)
		require.Equal(t, "sess-000000000001", got.CurrentSessionID)
		require.Equal(t, at(time.Minute), got.UpdatedAt)
	})

	t.Run("ReadModifyWrite/ErrorSavesNothing", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx core.Store) error {
			got, err := tx.Sandboxes().GetForUpdate(ctx, sb.ID)
			if err != nil {
				return err
			}
			got.ProfileID = "changed"
			if err := tx.Sandboxes().Save(ctx, got); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, "python-default", got.ProfileID)
	})

	t.Run("GetForUpdate/MissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		err := s.InTx(ctx, func(tx core.Store) error {
			_, err := tx.Sandboxes().GetForUpdate(ctx, "sandbox-ffffffffffff")
			return err
		})
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("ReadModifyWrite/ConcurrentAllApply", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- update(ctx, s, sb.ID, func(sb *core.Sandbox) { sb.Version++ })
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1+n, got.Version, "a row-locked read-modify-write loses no update")
	})

	t.Run("Timestamps/RoundTripUTCMicroseconds", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		east := time.FixedZone("east", 5*3600+1800)
		in := time.Date(2030, 12, 31, 23, 59, 59, 999999000, east)
		require.NoError(t, update(ctx, s, sb.ID, func(sb *core.Sandbox) {
			sb.ExpiresAt = &in
			sb.IdleExpiresAt = nil
		}))
		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, time.UTC, got.ExpiresAt.Location())
		require.True(t, in.Equal(*got.ExpiresAt), "want %v, got %v", in, got.ExpiresAt)
		require.Equal(t, 999999000, got.ExpiresAt.Nanosecond())
		require.Nil(t, got.IdleExpiresAt)
		require.Equal(t, time.UTC, got.CreatedAt.Location())
		require.Equal(t, 123456000, got.CreatedAt.Nanosecond())
	})

	t.Run("ListDue/ComparesTimesNotStrings", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		early := createSandbox(t, s, "alice")
		late := createSandbox(t, s, "alice")
		never := createSandbox(t, s, "alice")
		gone := createSandbox(t, s, "alice")
		set := func(sb *core.Sandbox, idle, hard *time.Time, deleted bool) {
			require.NoError(t, update(ctx, s, sb.ID, func(sb *core.Sandbox) {
				sb.IdleExpiresAt, sb.ExpiresAt = idle, hard
				if deleted {
					sb.DeletedAt = ptr(base)
				}
			}))
		}
		set(early, ptr(at(time.Microsecond)), ptr(at(time.Microsecond)), false)
		set(late, ptr(at(time.Hour)), ptr(at(time.Hour)), false)
		set(never, nil, nil, false)
		set(gone, ptr(at(time.Microsecond)), ptr(at(time.Microsecond)), true)

		// Just after early's deadline, in another zone: only early is due.
		now := at(2 * time.Microsecond).In(time.FixedZone("west", -8*3600))
		idle, err := s.Sandboxes().ListIdleDue(ctx, now)
		require.NoError(t, err)
		require.Equal(t, []string{early.ID}, idle)
		expired, err := s.Sandboxes().ListExpiredDue(ctx, now)
		require.NoError(t, err)
		require.Equal(t, []string{early.ID}, expired)
		// Exactly at the deadline nothing is due yet (strictly before now).
		idle, err = s.Sandboxes().ListIdleDue(ctx, at(time.Microsecond))
		require.NoError(t, err)
		require.Empty(t, idle)
	})

	t.Run("ListPauseDue/RunningCurrentSessionsOfTheProfile", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		before := at(time.Minute)
		mk := func(profile string, observed core.SessionState, idle *time.Time, deleted bool) *core.Sandbox {
			sb := createSandbox(t, s, "alice")
			if observed != "" {
				sess := newSession(sb.ID, core.SessionRunning, observed)
				require.NoError(t, s.Sessions().Insert(ctx, sess))
				sb.CurrentSessionID = sess.ID
			}
			sb.ProfileID = profile
			sb.IdleExpiresAt = idle
			if deleted {
				sb.DeletedAt = ptr(base)
			}
			require.NoError(t, s.Sandboxes().Save(ctx, sb))
			return sb
		}
		want := []string{
			mk("p", core.SessionRunning, ptr(at(time.Second)), false).ID,
			mk("p", core.SessionRunning, ptr(before), false).ID, // at the bound: due
		}
		mk("p", core.SessionRunning, ptr(before.Add(time.Microsecond)), false)
		mk("p", core.SessionRunning, nil, false)
		mk("p", core.SessionPaused, ptr(at(time.Second)), false)
		mk("p", core.SessionStarting, ptr(at(time.Second)), false)
		mk("p", core.SessionStopping, ptr(at(time.Second)), false)
		mk("p", "", ptr(at(time.Second)), false)
		mk("p", core.SessionRunning, ptr(at(time.Second)), true)
		mk("q", core.SessionRunning, ptr(at(time.Second)), false)
		slices.Sort(want)

		got, err := s.Sandboxes().ListPauseDue(ctx, "p", before.In(time.FixedZone("west", -8*3600)))
		require.NoError(t, err)
		require.Equal(t, want, got)
		got, err = s.Sandboxes().ListPauseDue(ctx, "none", before)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("ListByLocker/OnlyLiveSandboxes", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		l := newLocker("alice", "")
		require.NoError(t, s.Lockers().Create(ctx, l))
		a, b, c := newSandbox("alice", l.ID), newSandbox("alice", l.ID), newSandbox("alice", l.ID)
		for _, sb := range []*core.Sandbox{a, b, c} {
			require.NoError(t, s.Sandboxes().Create(ctx, sb))
		}
		require.NoError(t, update(ctx, s, b.ID, func(sb *core.Sandbox) { sb.DeletedAt = ptr(base) }))
		ids, err := s.Sandboxes().ListByLocker(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, []string{a.ID, c.ID}, ids)
	})

	t.Run("List/PaginatesByIDPerOwner", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		var want []string
		for range 7 {
			want = append(want, createSandbox(t, s, "alice").ID)
		}
		createSandbox(t, s, "bob")
		deleted := createSandbox(t, s, "alice")
		require.NoError(t, update(ctx, s, deleted.ID, func(sb *core.Sandbox) { sb.DeletedAt = ptr(base) }))

		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5, "pagination does not end")
			page, err := s.Sandboxes().List(ctx, core.SandboxFilter{Owner: "alice", Cursor: cursor, Limit: 3, Now: base})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 3)
			for _, sb := range page {
				require.Equal(t, "alice", sb.Owner)
				got = append(got, sb.ID)
			}
			if len(page) < 3 {
				break
			}
			cursor = page[len(page)-1].ID
		}
		require.Equal(t, want, got, "every live sandbox of the owner once, ordered by id")
	})

	t.Run("List/LimitBounds", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		createSandbox(t, s, "alice")
		// Limits out of bounds never reach a store: core refuses them
		// (core.CheckLimit; TestCheckLimit and the services' tests).
		for _, ok := range []int{1, core.MaxPageLimit} {
			page, err := s.Sandboxes().List(ctx, core.SandboxFilter{Owner: "alice", Limit: ok, Now: base})
			require.NoError(t, err)
			require.Len(t, page, 1)
		}
	})

	t.Run("List/StatusFilterMatchesComputedStatus", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		now := at(time.Hour)
		const (
			never   = iota // no hard TTL
			atNow          // expires exactly now: not yet expired
			expired        // expired a microsecond ago
		)
		mk := func(observed core.SessionState, ttl int) *core.Sandbox {
			sb := createSandbox(t, s, "alice")
			if observed != "" {
				sess := newSession(sb.ID, core.SessionRunning, observed)
				require.NoError(t, s.Sessions().Insert(ctx, sess))
				sb.CurrentSessionID = sess.ID
			}
			switch ttl {
			case atNow:
				sb.ExpiresAt = ptr(now)
			case expired:
				sb.ExpiresAt = ptr(now.Add(-time.Microsecond))
			}
			require.NoError(t, s.Sandboxes().Save(ctx, sb))
			return sb
		}
		want := map[core.SandboxStatus][]string{
			core.StatusIdle: {
				mk("", atNow).ID, mk("", never).ID, mk(core.SessionStopped, atNow).ID,
				mk(core.SessionStopping, never).ID, mk(core.SessionPaused, never).ID,
			},
			core.StatusReady:    {mk(core.SessionRunning, atNow).ID, mk(core.SessionRunning, never).ID},
			core.StatusStarting: {mk(core.SessionStarting, atNow).ID, mk(core.SessionPending, atNow).ID},
			core.StatusFailed:   {mk(core.SessionFailed, atNow).ID},
			core.StatusExpired: {
				mk(core.SessionRunning, expired).ID, mk("", expired).ID, mk(core.SessionFailed, expired).ID,
				mk(core.SessionStopped, expired).ID, mk(core.SessionPending, expired).ID,
				mk(core.SessionPaused, expired).ID,
			},
			core.StatusDeleted: nil,
		}
		// A deleted sandbox is neither listed nor counted.
		gone := mk(core.SessionRunning, atNow)
		gone.DeletedAt = ptr(base)
		require.NoError(t, s.Sandboxes().Save(ctx, gone))
		const live = 16

		all, err := s.Sandboxes().List(ctx, core.SandboxFilter{Owner: "alice", Limit: 50, Now: now})
		require.NoError(t, err)
		require.Len(t, all, live)
		for _, sb := range all {
			st := sb.Status(now)
			require.Contains(t, want[st], sb.ID, "Go and SQL agree on the status of %s", sb.ID)
		}
		for status, ids := range want {
			m := core.MatchStatus(status)
			page, err := s.Sandboxes().List(ctx, core.SandboxFilter{Owner: "alice", Limit: 50, Now: now, Status: m})
			require.NoError(t, err)
			var got []string
			for _, sb := range page {
				require.Equal(t, status, sb.Status(now))
				got = append(got, sb.ID)
			}
			require.ElementsMatch(t, ids, got, "status %s", status)
			// The store evaluates exactly the conditions StatusMatch states.
			for _, sb := range all {
				require.Equal(t, m.Matches(sb.Expired(now), sb.CurrentSessionState), slices.Contains(got, sb.ID),
					"status %s, sandbox %s", status, sb.ID)
			}
		}

		// The raw groups are the inputs of the rule as Go reads them.
		groups, err := s.Sandboxes().CountByState(ctx, now)
		require.NoError(t, err)
		wantGroups := map[core.SandboxCount]int64{}
		for _, sb := range all {
			wantGroups[core.SandboxCount{Expired: sb.Expired(now), SessionState: sb.CurrentSessionState}]++
		}
		gotGroups := map[core.SandboxCount]int64{}
		for _, g := range groups {
			require.Positive(t, g.N)
			n := g.N
			g.N = 0
			require.NotContains(t, gotGroups, g, "one row per group")
			gotGroups[g] = n
		}
		require.Equal(t, wantGroups, gotGroups)
		counts := core.StatusCounts(groups)
		for status, ids := range want {
			require.EqualValues(t, len(ids), counts[status], "count of %s", status)
		}

		// An unknown status is no filter.
		f, err := core.NewSandboxFilter("alice", "", 50, "bogus", now)
		require.NoError(t, err)
		page, err := s.Sandboxes().List(ctx, f)
		require.NoError(t, err)
		require.Len(t, page, live)
	})

	t.Run("HostileStrings/StoredLiterally", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		for _, v := range hostile(h.TextHoldsNUL) {
			// Owners are indexed, and index entries are bounded (Postgres
			// btree rows hold at most a few KiB), so the 1 MiB string goes
			// into the unindexed profile column and a 1000-byte cut of it
			// into the owner.
			owner := v
			if len(owner) > 1000 {
				owner = owner[:1000]
			}
			sb := newSandbox(owner, "")
			l := newLocker(owner, sb.ID)
			sb.LockerID = l.ID
			sb.ProfileID = v
			sb.IdleExpiresAt = ptr(base)
			require.NoError(t, createWithLocker(ctx, s, sb, l))
			got, err := s.Sandboxes().GetForOwner(ctx, owner, sb.ID)
			require.NoError(t, err)
			require.Equal(t, owner, got.Owner)
			require.Equal(t, v, got.ProfileID)
			page, err := s.Sandboxes().List(ctx, core.SandboxFilter{Owner: owner, Limit: 10, Now: base, Cursor: ""})
			require.NoError(t, err)
			require.Len(t, page, 1, "the owner filter matched literally")
			require.Equal(t, v, page[0].ProfileID)
			_, err = s.Sandboxes().GetForOwner(ctx, owner, v)
			requireCode(t, core.CodeNotFound, err)
		}
		requireTablesIntact(t, s, len(hostile(h.TextHoldsNUL)))
		if !h.TextHoldsNUL {
			sb := newSandbox("nul\x00owner", "")
			l := newLocker("nul\x00owner", sb.ID)
			sb.LockerID = l.ID
			requireCode(t, core.CodeValidation, createWithLocker(ctx, s, sb, l))
			_, err := s.Lockers().Get(ctx, l.ID)
			requireCode(t, core.CodeNotFound, err)
			requireTablesIntact(t, s, len(hostile(false)))
		}
	})
}

// requireTablesIntact checks that every table still answers and holds n
// sandboxes with their lockers.
func requireTablesIntact(t *testing.T, s core.Store, n int) {
	t.Helper()
	ctx := context.Background()
	orphans, err := s.Lockers().ListOrphans(ctx)
	require.NoError(t, err)
	require.Empty(t, orphans)
	_, err = s.Sessions().ListByObservedState(ctx, core.SessionRunning)
	require.NoError(t, err)
	_, err = s.Idempotency().DeleteExpired(ctx, base)
	require.NoError(t, err)
	due, err := s.Sandboxes().ListIdleDue(ctx, at(time.Hour))
	require.NoError(t, err)
	require.Len(t, due, n, "every sandbox row is still there")
	for _, id := range due {
		sb, err := s.Sandboxes().Get(ctx, id)
		require.NoError(t, err)
		_, err = s.Lockers().Get(ctx, sb.LockerID)
		require.NoError(t, err)
	}
}

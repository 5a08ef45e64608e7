package conformance

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// RunTransactions tests core.Store.InTx.
func RunTransactions(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("FailedMultiStepRollsBack", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		sess := newSession(sb.ID, core.SessionRunning, core.SessionPending)
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx core.Store) error {
			got, err := tx.Sandboxes().GetForUpdate(ctx, sb.ID)
			require.NoError(t, err)
			require.NoError(t, tx.Sessions().Insert(ctx, sess))
			got.CurrentSessionID = sess.ID
			require.NoError(t, tx.Sandboxes().Save(ctx, got))
			require.NoError(t, tx.Lockers().Create(ctx, newLocker("alice", "")))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = s.Sessions().Get(ctx, sess.ID)
		requireCode(t, core.CodeNotFound, err)
		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.Empty(t, got.CurrentSessionID)
		lockers, err := s.Lockers().List(ctx, core.LockerFilter{Owner: "alice", Limit: 10})
		require.NoError(t, err)
		require.Empty(t, lockers)
	})

	t.Run("CommitKeepsEveryStep", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		sess := newSession(sb.ID, core.SessionRunning, core.SessionPending)
		require.NoError(t, s.InTx(ctx, func(tx core.Store) error {
			got, err := tx.Sandboxes().GetForUpdate(ctx, sb.ID)
			if err != nil {
				return err
			}
			if err := tx.Sessions().Insert(ctx, sess); err != nil {
				return err
			}
			got.CurrentSessionID = sess.ID
			// Nested InTx joins the outer transaction.
			return tx.InTx(ctx, func(inner core.Store) error { return inner.Sandboxes().Save(ctx, got) })
		}))
		got, err := s.Sandboxes().Get(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, sess.ID, got.CurrentSessionID)
		require.Equal(t, core.SessionPending, got.CurrentSessionState)
	})

	t.Run("PanicRollsBack", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		l := newLocker("alice", "")
		require.Panics(t, func() {
			_ = s.InTx(ctx, func(tx core.Store) error {
				require.NoError(t, tx.Lockers().Create(ctx, l))
				panic("boom")
			})
		})
		_, err := s.Lockers().Get(ctx, l.ID)
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("OwnerUsage", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		for _, owner := range []string{"alice", "bob"} {
			n, err := s.Sandboxes().CountByOwner(ctx, owner)
			require.NoError(t, err)
			require.Zero(t, n)
			u, err := s.Lockers().UsageByOwner(ctx, owner)
			require.NoError(t, err)
			require.Equal(t, core.LockerUsage{}, u)
		}
		a1 := createSandbox(t, s, "alice")
		a2 := createSandbox(t, s, "alice")
		createSandbox(t, s, "bob")
		ext := newLocker("alice", "")
		ext.SizeLimitMB = 64
		require.NoError(t, s.Lockers().Create(ctx, ext))
		// A deleted sandbox no longer counts; its locker still does.
		got, err := s.Sandboxes().Get(ctx, a2.ID)
		require.NoError(t, err)
		got.DeletedAt = ptr(at(time.Minute))
		require.NoError(t, s.Sandboxes().Save(ctx, got))
		for _, sess := range []*core.Session{
			newSession(a1.ID, core.SessionRunning, core.SessionRunning),
			newSession(a1.ID, core.SessionStopped, core.SessionStopped),
		} {
			require.NoError(t, s.Sessions().Insert(ctx, sess))
		}

		n, err := s.Sandboxes().CountByOwner(ctx, "alice")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		u, err := s.Lockers().UsageByOwner(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, core.LockerUsage{Count: 3, TotalMB: 1024 + 1024 + 64}, u)
		active, err := s.Sessions().CountActiveByOwner(ctx, "alice")
		require.NoError(t, err)
		require.EqualValues(t, 1, active, "stopped sessions do not count")
		active, err = s.Sessions().CountActiveByOwner(ctx, "bob")
		require.NoError(t, err)
		require.Zero(t, active)
		for _, hostileOwner := range hostile(h.TextHoldsNUL)[:4] {
			n, err := s.Sandboxes().CountByOwner(ctx, hostileOwner)
			require.NoError(t, err)
			require.Zero(t, n)
		}
	})

	t.Run("LockOwnerLetsOneRacerTakeEachSlot", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		const racers, limit = 20, 5
		var (
			wg      sync.WaitGroup
			created atomic.Int32
			refused atomic.Int32
		)
		for range racers {
			wg.Go(func() {
				err := s.InTx(ctx, func(tx core.Store) error {
					if err := tx.LockOwner(ctx, "alice"); err != nil {
						return err
					}
					n, err := tx.Sandboxes().CountByOwner(ctx, "alice")
					if err != nil {
						return err
					}
					if n >= limit {
						return core.Errorf(core.CodeQuotaExceeded, "full")
					}
					sb := newSandbox("alice", "")
					l := newLocker("alice", sb.ID)
					sb.LockerID = l.ID
					return createWithLocker(ctx, tx, sb, l)
				})
				switch core.CodeOf(err) {
				case "":
					created.Add(1)
				case core.CodeQuotaExceeded:
					refused.Add(1)
				default:
					t.Errorf("racer: %v", err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, limit, created.Load())
		require.EqualValues(t, racers-limit, refused.Load())
		n, err := s.Sandboxes().CountByOwner(ctx, "alice")
		require.NoError(t, err)
		require.EqualValues(t, limit, n)
		requireCode(t, core.CodeInternal, s.LockOwner(ctx, "alice"))
	})
}

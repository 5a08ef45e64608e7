package conformance

import (
	"context"
	"errors"
	"testing"

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
}

package conformance

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// RunSessionStore tests a core.SessionStore.
func RunSessionStore(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("Insert/RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		sess := newSession(sb.ID, core.SessionRunning, core.SessionStarting)
		sess.ContainerID = "0123456789abcdef"
		sess.Endpoint = "http://127.0.0.1:32768"
		sess.LastObservedAt = ptr(at(time.Second))
		sess.ClaimedBy = "bay-1"
		sess.ClaimedAt = ptr(at(time.Millisecond))
		require.NoError(t, s.Sessions().Insert(ctx, sess))
		got, err := s.Sessions().Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, sess, got)
	})

	t.Run("Insert/DuplicateIDIsConflict", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		sess := newSession(sb.ID, core.SessionStopped, core.SessionStopped)
		require.NoError(t, s.Sessions().Insert(ctx, sess))
		requireCode(t, core.CodeConflict, s.Sessions().Insert(ctx, sess))
	})

	t.Run("Insert/UnknownSandboxIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		requireCode(t, core.CodeNotFound, s.Sessions().Insert(ctx, newSession("sandbox-ffffffffffff", core.SessionRunning, core.SessionPending)))
	})

	t.Run("Get/MissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		_, err := s.Sessions().Get(ctx, "sess-ffffffffffff")
		requireCode(t, core.CodeNotFound, err)
		requireCode(t, core.CodeNotFound, s.Sessions().Delete(ctx, "sess-ffffffffffff"))
		requireCode(t, core.CodeNotFound, s.Sessions().Save(ctx, newSession("x", core.SessionStopped, core.SessionStopped)))
	})

	t.Run("SaveListDelete", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		a := newSession(sb.ID, core.SessionRunning, core.SessionPending)
		b := newSession(sb.ID, core.SessionStopped, core.SessionStopped)
		require.NoError(t, s.Sessions().Insert(ctx, a))
		require.NoError(t, s.Sessions().Insert(ctx, b))

		a.ObservedState = core.SessionRunning
		a.ContainerID = "c1"
		a.Endpoint = "http://10.0.0.2:8123"
		a.LastObservedAt = ptr(at(time.Minute))
		a.UpdatedAt = at(time.Minute)
		require.NoError(t, s.Sessions().Save(ctx, a))

		list, err := s.Sessions().ListBySandbox(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, []*core.Session{a, b}, list)
		running, err := s.Sessions().ListByObservedState(ctx, core.SessionRunning)
		require.NoError(t, err)
		require.Equal(t, []*core.Session{a}, running)

		require.NoError(t, s.Sessions().Delete(ctx, a.ID))
		_, err = s.Sessions().Get(ctx, a.ID)
		requireCode(t, core.CodeNotFound, err)
		list, err = s.Sessions().ListBySandbox(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, []*core.Session{b}, list)
	})

	t.Run("Containers/RoundTripInPositionOrder", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		sess := newSession(sb.ID, core.SessionRunning, core.SessionStarting)
		// Names out of alphabetical order: the list keeps its own order.
		sess.Containers = []core.SessionContainer{
			{Name: "ship", RuntimeType: core.RuntimeTypeShip, Port: 8123,
				Capabilities: []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython},
				ContainerID:  "c-owner", CreatedAt: base, UpdatedAt: at(time.Second)},
			{Name: "browser", RuntimeType: core.RuntimeTypeBrowser, Port: 8124, Capabilities: []string{"browser"},
				CreatedAt: base, UpdatedAt: base},
			{Name: "aux", RuntimeType: core.RuntimeTypeShip, Port: 8125, CreatedAt: base, UpdatedAt: base},
		}
		sess.ContainerID = "c-owner"
		require.NoError(t, s.Sessions().Insert(ctx, sess))
		got, err := s.Sessions().Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, sess, got, "every field of every container, in position order")

		// Save replaces the list: ids and endpoints recorded, one dropped.
		sess.Containers = sess.Containers[:2]
		sess.Containers[0].Endpoint = "http://127.0.0.1:32768"
		sess.Containers[1].ContainerID = "c-browser"
		sess.Containers[1].Endpoint = "http://127.0.0.1:32769"
		sess.Containers[1].UpdatedAt = at(time.Minute)
		sess.Endpoint = "http://127.0.0.1:32768"
		sess.ObservedState = core.SessionRunning
		require.NoError(t, s.InTx(ctx, func(tx core.Store) error { return tx.Sessions().Save(ctx, sess) }))
		got, err = s.Sessions().Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Equal(t, sess, got)
		list, err := s.Sessions().ListBySandbox(ctx, sb.ID)
		require.NoError(t, err)
		require.Equal(t, []*core.Session{sess}, list, "listed sessions carry their containers")
		running, err := s.Sessions().ListByObservedState(ctx, core.SessionRunning)
		require.NoError(t, err)
		require.Equal(t, []*core.Session{sess}, running)

		// Lookup by any container's id, the owner's included.
		for _, cid := range []string{"c-owner", "c-browser"} {
			byC, err := s.Sessions().GetByContainer(ctx, cid)
			require.NoError(t, err)
			require.Equal(t, sess, byC, cid)
		}
		_, err = s.Sessions().GetByContainer(ctx, "c-unknown")
		requireCode(t, core.CodeNotFound, err)

		// Saving none removes the rows.
		sess.Containers = nil
		sess.ContainerID, sess.Endpoint = "", ""
		require.NoError(t, s.Sessions().Save(ctx, sess))
		got, err = s.Sessions().Get(ctx, sess.ID)
		require.NoError(t, err)
		require.Nil(t, got.Containers)
		_, err = s.Sessions().GetByContainer(ctx, "c-browser")
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("Containers/DeleteRemovesThem", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		sess := newSession(sb.ID, core.SessionRunning, core.SessionRunning)
		sess.Containers = []core.SessionContainer{
			{Name: "ship", RuntimeType: core.RuntimeTypeShip, Port: 8123, Capabilities: []string{core.CapabilityPython},
				ContainerID: "d-owner", CreatedAt: base, UpdatedAt: base},
			{Name: "browser", RuntimeType: core.RuntimeTypeBrowser, Port: 8124, Capabilities: []string{"browser"},
				ContainerID: "d-browser", CreatedAt: base, UpdatedAt: base},
		}
		require.NoError(t, s.Sessions().Insert(ctx, sess))
		require.NoError(t, s.InTx(ctx, func(tx core.Store) error { return tx.Sessions().Delete(ctx, sess.ID) }))
		_, err := s.Sessions().GetByContainer(ctx, "d-browser")
		requireCode(t, core.CodeNotFound, err)
		// The same names again under a new session of the sandbox.
		again := newSession(sb.ID, core.SessionRunning, core.SessionPending)
		again.Containers = sess.Containers
		require.NoError(t, s.Sessions().Insert(ctx, again))
		got, err := s.Sessions().GetByContainer(ctx, "d-browser")
		require.NoError(t, err)
		require.Equal(t, again.ID, got.ID)
	})

	t.Run("Containers/LegacyOwnerLookup", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		sess := newSession(sb.ID, core.SessionRunning, core.SessionRunning)
		sess.ContainerID = "legacy-1"
		require.NoError(t, s.Sessions().Insert(ctx, sess))
		got, err := s.Sessions().GetByContainer(ctx, "legacy-1")
		require.NoError(t, err, "a session without container rows is found by its own container id")
		require.Equal(t, sess, got)
	})

	t.Run("OneActive/SecondActiveIsConflict", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		other := createSandbox(t, s, "alice")
		first := newSession(sb.ID, core.SessionRunning, core.SessionRunning)
		require.NoError(t, s.Sessions().Insert(ctx, first))
		requireCode(t, core.CodeConflict, s.Sessions().Insert(ctx, newSession(sb.ID, core.SessionRunning, core.SessionPending)))
		// Inactive sessions and other sandboxes are not limited.
		require.NoError(t, s.Sessions().Insert(ctx, newSession(sb.ID, core.SessionStopped, core.SessionStopped)))
		require.NoError(t, s.Sessions().Insert(ctx, newSession(other.ID, core.SessionRunning, core.SessionPending)))
		// Saving an inactive session back to active while another is active.
		stopped := newSession(sb.ID, core.SessionStopped, core.SessionStopped)
		require.NoError(t, s.Sessions().Insert(ctx, stopped))
		stopped.DesiredState = core.SessionRunning
		requireCode(t, core.CodeConflict, s.Sessions().Save(ctx, stopped))
		// Once the first is stopped a new active session is allowed.
		first.DesiredState = core.SessionStopped
		require.NoError(t, s.Sessions().Save(ctx, first))
		require.NoError(t, s.Sessions().Insert(ctx, newSession(sb.ID, core.SessionRunning, core.SessionPending)))
	})

	t.Run("OneActive/FiftyRacersOneWinner", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		sb := createSandbox(t, s, "alice")
		const n = 50
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Sessions().Insert(ctx, newSession(sb.ID, core.SessionRunning, core.SessionPending))
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			requireCode(t, core.CodeConflict, err)
		}
		require.Equal(t, 1, wins)
		list, err := s.Sessions().ListBySandbox(ctx, sb.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
	})
}

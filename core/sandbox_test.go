package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// statusInputs returns a live sandbox for every pair of the status rule's
// inputs: hard TTL passed or not, and no session or a session in each state.
func statusInputs(now time.Time) []*core.Sandbox {
	past := now.Add(-time.Microsecond)
	var out []*core.Sandbox
	for _, exp := range []*time.Time{nil, &now, &past} {
		for _, st := range append([]core.SessionState{""}, core.SessionStates...) {
			out = append(out, &core.Sandbox{ExpiresAt: exp, CurrentSessionState: st})
		}
	}
	return out
}

func TestMatchStatus(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC)
	statuses := append([]core.SandboxStatus{"bogus"}, core.SandboxStatuses...)
	for _, status := range statuses {
		t.Run(string(status), func(t *testing.T) {
			t.Parallel()
			m := core.MatchStatus(status)
			require.True(t, m.Set)
			for _, sb := range statusInputs(now) {
				require.Equal(t, sb.Status(now) == status, m.Matches(sb.Expired(now), sb.CurrentSessionState),
					"expires_at %v, session %q", sb.ExpiresAt, sb.CurrentSessionState)
			}
		})
	}
	t.Run("ZeroMatchesAll", func(t *testing.T) {
		t.Parallel()
		for _, sb := range statusInputs(now) {
			require.True(t, core.StatusMatch{}.Matches(sb.Expired(now), sb.CurrentSessionState))
		}
	})
}

func TestStatusCounts(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC)
	var groups []core.SandboxCount
	want := map[core.SandboxStatus]int64{}
	for i, sb := range statusInputs(now) {
		n := int64(i + 1)
		groups = append(groups, core.SandboxCount{Expired: sb.Expired(now), SessionState: sb.CurrentSessionState, N: n})
		want[sb.Status(now)] += n
	}
	require.Equal(t, want, core.StatusCounts(groups))
	require.Empty(t, core.StatusCounts(nil))
}

func TestNewSandboxFilter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC)
	for _, bad := range []int{-1, 0, core.MaxPageLimit + 1} {
		_, err := core.NewSandboxFilter("alice", "", bad, "", now)
		requireCode(t, core.CodeValidation, err, "limit", bad)
	}
	f, err := core.NewSandboxFilter("alice", "sandbox-1", core.MaxPageLimit, "ready", now)
	require.NoError(t, err)
	require.Equal(t, core.SandboxFilter{
		Owner: "alice", Cursor: "sandbox-1", Limit: core.MaxPageLimit, Now: now,
		Status: core.MatchStatus(core.StatusReady),
	}, f)
	for _, none := range []string{"", "bogus", "Ready"} {
		f, err := core.NewSandboxFilter("alice", "", 1, none, now)
		require.NoError(t, err)
		require.Equal(t, core.StatusMatch{}, f.Status, "status %q is no filter", none)
	}
}

func TestServices_ListLimitBounds(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	_, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	for _, bad := range []int{-1, 0, core.MaxPageLimit + 1} {
		_, err := svc.List(b.ctx, "alice", "", bad, "")
		requireCode(t, core.CodeValidation, err, "sandboxes, limit", bad)
		_, err = b.lockers.List(b.ctx, "alice", "", bad, true)
		requireCode(t, core.CodeValidation, err, "lockers, limit", bad)
	}
	for _, ok := range []int{1, core.MaxPageLimit} {
		page, err := svc.List(b.ctx, "alice", "", ok, "")
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		lockers, err := b.lockers.List(b.ctx, "alice", "", ok, true)
		require.NoError(t, err)
		require.Len(t, lockers.Items, 1)
	}
}

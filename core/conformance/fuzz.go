package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/bayhq/bay/core"
)

// FuzzList fuzzes the list filters and cursors of the sandbox and locker
// stores behind core's checks (NewSandboxFilter, CheckLimit), as the
// services call them: whatever the owner, cursor, status and limit, the
// answer is a page or a validation_error, never a SQL error or a panic.
func FuzzList(f *testing.F, s core.Store) {
	ctx := context.Background()
	f.Add("alice", "", "", 50, false)
	f.Add("' OR 1=1 --", "sandbox-", "ready", 1, true)
	f.Add("x", "'; DROP TABLE sandboxes; --", "expired", 200, false)
	f.Add("", "\xff\xfe", "deleted", 0, true)
	f.Add("ünï", "%", "idle' OR '1'='1", 201, false)
	f.Add("a\x00b", "\x00", "starting", -5, true)
	f.Fuzz(func(t *testing.T, owner, cursor, status string, limit int, managed bool) {
		var page []*core.Sandbox
		sf, err := core.NewSandboxFilter(owner, cursor, limit, status, time.Now())
		if err == nil {
			page, err = s.Sandboxes().List(ctx, sf)
		}
		checkListResult(t, len(page), limit, err)
		var lockers []*core.Locker
		err = core.CheckLimit(limit)
		if err == nil {
			lockers, err = s.Lockers().List(ctx, core.LockerFilter{Owner: owner, Cursor: cursor, Limit: limit, Managed: managed})
		}
		checkListResult(t, len(lockers), limit, err)
	})
}

func checkListResult(t *testing.T, n, limit int, err error) {
	t.Helper()
	if err != nil {
		if c := core.CodeOf(err); c != core.CodeValidation {
			t.Fatalf("list(limit=%d) = %v (code %s), want a page or validation_error", limit, err, c)
		}
		return
	}
	if limit < 1 || limit > core.MaxPageLimit {
		t.Fatalf("list accepted limit %d", limit)
	}
	if n > limit {
		t.Fatalf("list returned %d items for limit %d", n, limit)
	}
}

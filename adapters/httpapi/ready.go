package httpapi

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// readyTimeout bounds each readiness check, readyCacheFor how long an
// answer is reused (bay-api.md §7.1.1): probes from every orchestrator node
// then cost the database at most one ping a second.
const (
	readyTimeout  = time.Second
	readyCacheFor = time.Second
)

// Pending is what a readiness check returns while the thing it checks is
// still being prepared (Bay's start-up): GET /ready reports it as
// "pending: <what>" instead of "unreachable: …", and looks at that check
// again on every call, so that readiness shows as soon as it is over. Such
// a check must be cheap (a flag).
type Pending string

func (p Pending) Error() string { return string(p) }

// readiness runs the dependency checks of GET /ready and caches the answer.
type readiness struct {
	checks map[string]func(ctx context.Context) error
	now    func() time.Time

	mu   sync.Mutex
	at   time.Time
	last oapigen.Readiness
	// pending are the checks of last that were pending.
	pending []string
}

func newReadiness(checks map[string]func(ctx context.Context) error, now func() time.Time) *readiness {
	if now == nil {
		now = time.Now
	}
	return &readiness{checks: checks, now: now}
}

// check returns the cached answer if it is fresh, else runs every check
// concurrently, each bounded by readyTimeout. Concurrent callers wait for
// one run instead of starting their own. The checks that were pending are
// run again even on a fresh answer.
func (r *readiness) check(ctx context.Context) oapigen.Readiness {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The checks outlive a client that hangs up: their answer is cached
	// for the next probe.
	ctx = context.WithoutCancel(ctx)
	names := slices.Collect(maps.Keys(r.checks))
	if !r.at.IsZero() && r.now().Sub(r.at) < readyCacheFor {
		if len(r.pending) == 0 {
			return copyReadiness(r.last)
		}
		names = r.pending
	} else {
		r.at = r.now()
		r.last = oapigen.Readiness{Checks: make(map[string]string, len(r.checks))}
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for _, name := range names {
		wg.Go(func() {
			res := runCheck(ctx, r.checks[name])
			mu.Lock()
			r.last.Checks[name] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	r.last.Status, r.pending = oapigen.ReadinessReady, nil
	for name, res := range r.last.Checks {
		if res != "ok" {
			r.last.Status = oapigen.ReadinessNotReady
		}
		if strings.HasPrefix(res, pendingPrefix) {
			r.pending = append(r.pending, name)
		}
	}
	return copyReadiness(r.last)
}

const pendingPrefix = "pending: "

// runCheck runs one check, bounded by readyTimeout, and says how it went.
func runCheck(ctx context.Context, fn func(ctx context.Context) error) string {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := fn(ctx)
	var p Pending
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &p):
		return pendingPrefix + string(p)
	default:
		return "unreachable: " + err.Error()
	}
}

func copyReadiness(r oapigen.Readiness) oapigen.Readiness {
	r.Checks = maps.Clone(r.Checks)
	return r
}

package httpapi

import (
	"context"
	"maps"
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

// readiness runs the dependency checks of GET /ready and caches the answer.
type readiness struct {
	checks map[string]func(ctx context.Context) error
	now    func() time.Time

	mu   sync.Mutex
	at   time.Time
	last oapigen.Readiness
}

func newReadiness(checks map[string]func(ctx context.Context) error, now func() time.Time) *readiness {
	if now == nil {
		now = time.Now
	}
	return &readiness{checks: checks, now: now}
}

// check returns the cached answer if it is fresh, else runs every check
// concurrently, each bounded by readyTimeout. Concurrent callers wait for
// one run instead of starting their own.
func (r *readiness) check(ctx context.Context) oapigen.Readiness {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && r.now().Sub(r.at) < readyCacheFor {
		return copyReadiness(r.last)
	}
	// The checks outlive a client that hangs up: their answer is cached
	// for the next probe.
	ctx = context.WithoutCancel(ctx)
	out := oapigen.Readiness{Status: oapigen.ReadinessReady, Checks: make(map[string]string, len(r.checks))}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for name, fn := range r.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			res := "ok"
			if err := fn(cctx); err != nil {
				res = "unreachable: " + err.Error()
			}
			mu.Lock()
			out.Checks[name] = res
			if res != "ok" {
				out.Status = oapigen.ReadinessNotReady
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	r.at, r.last = r.now(), out
	return copyReadiness(out)
}

func copyReadiness(r oapigen.Readiness) oapigen.Readiness {
	r.Checks = maps.Clone(r.Checks)
	return r
}

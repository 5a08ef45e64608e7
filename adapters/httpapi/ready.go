package httpapi

import (
	"context"
	"errors"
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

// Pending is what a readiness check returns while the thing it checks is
// still being prepared (Bay's start-up): GET /ready reports it as
// "pending: <what>" instead of "unreachable: …", and an answer holding one
// is not cached, so that readiness shows as soon as it is over.
type Pending string

func (p Pending) Error() string { return string(p) }

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
// one run instead of starting their own. An answer with a pending check is
// not cached: start-up ends once, and probes during it are few.
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
		wg      sync.WaitGroup
		mu      sync.Mutex
		pending bool
	)
	for name, fn := range r.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			res := "ok"
			err := fn(cctx)
			var p Pending
			switch {
			case errors.As(err, &p):
				res = "pending: " + string(p)
			case err != nil:
				res = "unreachable: " + err.Error()
			}
			mu.Lock()
			out.Checks[name] = res
			if res != "ok" {
				out.Status = oapigen.ReadinessNotReady
			}
			pending = pending || p != ""
			mu.Unlock()
		})
	}
	wg.Wait()
	if !pending {
		r.at, r.last = r.now(), out
	}
	return copyReadiness(out)
}

func copyReadiness(r oapigen.Readiness) oapigen.Readiness {
	r.Checks = maps.Clone(r.Checks)
	return r
}

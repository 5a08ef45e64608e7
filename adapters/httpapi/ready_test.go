package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

func TestServer_HealthAndReady(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		now     = testNow
		dbErr   error
		dbCalls atomic.Int32
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	setDB := func(err error) { mu.Lock(); dbErr = err; mu.Unlock() }
	b := setup(t, func(o *Options) {
		o.Now = clock
		o.Ready = map[string]func(context.Context) error{
			"database": func(context.Context) error {
				dbCalls.Add(1)
				mu.Lock()
				defer mu.Unlock()
				return dbErr
			},
			"runtime": func(ctx context.Context) error {
				<-ctx.Done() // a runtime that never answers
				return ctx.Err()
			},
		}
	})
	ctx := context.Background()

	setDB(errors.New("connection refused"))
	h, err := b.client.GetHealthWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, h.StatusCode(), "liveness checks no dependency")
	require.Zero(t, dbCalls.Load())

	began := time.Now()
	r, err := b.client.GetReadyWithResponse(ctx)
	require.NoError(t, err)
	require.Less(t, time.Since(began), 10*time.Second, "a hanging check is bounded")
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode())
	require.NotEmpty(t, r.HTTPResponse.Header.Get("X-Request-Id"))
	require.NotNil(t, r.JSON503)
	require.Equal(t, oapigen.ReadinessNotReady, r.JSON503.Status)
	require.Equal(t, "unreachable: connection refused", r.JSON503.Checks["database"])
	require.Equal(t, "unreachable: context deadline exceeded", r.JSON503.Checks["runtime"])

	// Within a second the answer is reused: probes do not load the database.
	setDB(nil)
	_, err = b.client.GetReadyWithResponse(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, dbCalls.Load())

	advance(2 * time.Second)
	r, err = b.client.GetReadyWithResponse(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, dbCalls.Load())
	require.Equal(t, "ok", r.JSON503.Checks["database"], "the database is back; the runtime still is not")
}

func TestServer_ReadyWhenEverythingAnswers(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	b := setup(t, func(o *Options) {
		o.Ready = map[string]func(context.Context) error{"database": ok, "runtime": ok}
	})
	r, err := b.client.GetReadyWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.StatusCode())
	require.Equal(t, oapigen.Readiness{Status: oapigen.ReadinessReady, Checks: map[string]string{"database": "ok", "runtime": "ok"}}, *r.JSON200)
}

func TestServer_ReadyPendingWhileStarting(t *testing.T) {
	t.Parallel()
	var (
		started atomic.Bool
		pings   atomic.Int32
	)
	ok := func(context.Context) error { pings.Add(1); return nil }
	b := setup(t, func(o *Options) {
		o.Now = func() time.Time { return testNow } // a clock that never moves: the cache never expires
		o.Ready = map[string]func(context.Context) error{"database": ok, "runtime": ok,
			StartupCheck: func(context.Context) error {
				if !started.Load() {
					return Pending("reconcile")
				}
				return nil
			}}
	})
	ctx := context.Background()

	for range 3 {
		r, err := b.client.GetReadyWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, r.StatusCode())
		require.Equal(t, oapigen.Readiness{Status: oapigen.ReadinessNotReady,
			Checks: map[string]string{"database": "ok", "runtime": "ok", StartupCheck: "pending: reconcile"}}, *r.JSON503)
	}
	require.EqualValues(t, 2, pings.Load(), "probes during start-up ping the dependencies once per cache period")

	// The pending check is looked at on every call: ready shows as soon as
	// start-up ends, with the dependencies' cached answers.
	started.Store(true)
	r, err := b.client.GetReadyWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.StatusCode())
	require.Equal(t, oapigen.Readiness{Status: oapigen.ReadinessReady,
		Checks: map[string]string{"database": "ok", "runtime": "ok", StartupCheck: "ok"}}, *r.JSON200)
	require.EqualValues(t, 2, pings.Load())
}

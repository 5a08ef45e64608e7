package httpapi

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// StartupCheck is the name of the readiness check that stays pending while
// Bay starts (openapi/bay.yaml, GET /ready).
const StartupCheck = "startup"

// Starting is the handler Bay listens with while it starts, so that
// liveness never waits for the database or the container runtime:
// GET /health answers 200 at once, GET /ready answers 503 not_ready with
// the startup check "pending: migration", and every other request 503
// service_unavailable (with Retry-After), until Open hands every request to
// the API. Requests get an X-Request-Id and an access-log line as on the
// API.
type Starting struct {
	api      atomic.Pointer[http.Handler]
	starting http.Handler
}

// NewStarting returns a Starting that logs its requests to logger (nil
// discards them).
func NewStarting(logger *slog.Logger) *Starting {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// A Server with no services: its middleware and error writers only.
	s := &Server{log: logger, now: time.Now}
	return &Starting{starting: s.withRequestID(s.withAccessLog(s.withRecover(http.HandlerFunc(s.serveStarting))))}
}

// Open hands every request from now on to api.
func (g *Starting) Open(api http.Handler) { g.api.Store(&api) }

// ServeHTTP implements http.Handler.
func (g *Starting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if api := g.api.Load(); api != nil {
		(*api).ServeHTTP(w, r)
		return
	}
	g.starting.ServeHTTP(w, r)
}

// startingRetryMs is the Retry-After of a request refused during start-up:
// migrating an up-to-date database takes milliseconds.
const startingRetryMs = 1000

// serveStarting answers a request while Bay starts.
func (s *Server) serveStarting(w http.ResponseWriter, r *http.Request) {
	info := infoFrom(r.Context())
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case get && r.URL.Path == "/health":
		info.route = "GET /health"
		b, err := marshal(oapigen.Health{Status: oapigen.HealthStatusOk})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, b)
	case get && r.URL.Path == "/ready":
		info.route = "GET /ready"
		b, err := marshal(oapigen.Readiness{Status: oapigen.ReadinessNotReady,
			Checks: map[string]string{StartupCheck: "pending: migration"}})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, b)
	default:
		s.writeError(w, r, core.Errorf(core.CodeServiceUnavailable, "Bay is starting; retry shortly").
			WithDetails(map[string]any{"retry_after_ms": startingRetryMs}))
	}
}

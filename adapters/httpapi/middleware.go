package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/bayhq/bay/core"
)

// maxOwnerBytes caps the X-Owner header in anonymous mode.
const maxOwnerBytes = 256

// maxRequestIDBytes caps an echoed X-Request-Id; longer or non-printable
// values are replaced by a generated id.
const maxRequestIDBytes = 200

// requestInfo is the per-request metadata the middlewares share: the outer
// ones create it, the inner ones fill it in for the access log.
type requestInfo struct {
	id         string
	start      time.Time // when the request reached Bay
	route      string
	owner      string
	sandboxID  string
	capability string
	// body is the canonical JSON body (the idempotency fingerprint input).
	body []byte
	// err is the failure behind a 5xx, logged with its whole chain.
	err error
	// request is the request as routed, for a handler that takes over the
	// connection (the terminal's WebSocket upgrade), which the generated
	// strict handler does not pass.
	request *http.Request
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

func ownerFrom(ctx context.Context) string { return infoFrom(ctx).owner }

// withRequestID echoes a sane client X-Request-Id or generates a UUIDv4, sets
// it on the response before anything else runs, and starts requestInfo.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newUUID()
		}
		w.Header().Set("X-Request-Id", id)
		info := &requestInfo{id: id, start: s.now()}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// statusWriter remembers the status for the access log and whether the
// header went out, so error writers never write twice.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

func wroteHeader(w http.ResponseWriter) bool {
	sw, ok := w.(*statusWriter)
	return ok && sw.status != 0
}

// withAccessLog writes one log line per request and feeds Metrics.
func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		d := s.now().Sub(start)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		info := infoFrom(r.Context())
		attrs := []slog.Attr{
			slog.String("request_id", info.id),
			slog.String("method", r.Method),
			slog.String("route", info.route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		}
		if info.owner != "" {
			attrs = append(attrs, slog.String("owner", info.owner))
		}
		if info.sandboxID != "" {
			attrs = append(attrs, slog.String("sandbox_id", info.sandboxID))
		}
		level := slog.LevelInfo
		// GET /ready answers 503 whenever a dependency is down or start-up
		// is not over: probes poll it, so that is news, not an error.
		if status >= 500 && !(status == http.StatusServiceUnavailable && info.route == "GET /ready") {
			level = slog.LevelError
			if info.err != nil {
				attrs = append(attrs, slog.String("err", info.err.Error()))
			}
		}
		s.log.LogAttrs(r.Context(), level, "http request", attrs...)
		if s.metrics != nil {
			s.metrics.ObserveRequest(info.route, status, d)
		}
	})
}

// redactTicket removes a terminal ticket (?ticket=, a bearer secret for
// its minute) from the request once it has served authentication, so that
// nothing after, a log line included, can see it.
func redactTicket(r *http.Request) {
	q := r.URL.Query()
	if !q.Has("ticket") {
		return
	}
	q.Del("ticket")
	r.URL.RawQuery = q.Encode()
	r.RequestURI = r.URL.RequestURI()
}

// withRecover turns a panic into a 500 envelope without internals; the
// panic value and stack go to the log.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			if wroteHeader(w) {
				infoFrom(r.Context()).err = err
				return
			}
			s.writeError(w, r, core.Wrap(err, core.CodeInternal, "An internal error occurred"))
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate resolves the owner and the scopes of the caller (bay-api.md
// §2): a configured key's, or, in anonymous mode, every scope.
func (s *Server) authenticate(r *http.Request) (string, []string, error) {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		switch {
		case len(s.keys) > 0:
			if k, ok := match(s.keys, token); ok {
				return k.owner, k.scopes, nil
			}
			return "", nil, core.Errorf(core.CodeUnauthorized, "Invalid API key")
		case s.allowAnonymous:
			return "default", AllScopes, nil
		default:
			return "", nil, core.Errorf(core.CodeUnauthorized, "Authentication required")
		}
	}
	if !s.allowAnonymous {
		return "", nil, core.Errorf(core.CodeUnauthorized, "Authentication required")
	}
	owner := r.Header.Get("X-Owner")
	if owner == "" {
		return "default", AllScopes, nil
	}
	if len(owner) > maxOwnerBytes {
		return "", nil, core.Invalid("X-Owner must be at most %d bytes", maxOwnerBytes).
			WithDetails(map[string]any{"max_bytes": maxOwnerBytes})
	}
	return owner, AllScopes, nil
}

package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

func TestStarting(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	gate := NewStarting(slog.New(slog.NewJSONHandler(logs, nil)))
	srv := httptest.NewServer(gate)
	t.Cleanup(srv.Close)
	client, err := oapigen.NewClientWithResponses(srv.URL)
	require.NoError(t, err)
	ctx := context.Background()

	t.Run("HealthAnswersAtOnce", func(t *testing.T) {
		h, err := client.GetHealthWithResponse(ctx, withHeader("X-Request-Id", "probe-1"))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, h.StatusCode())
		require.Equal(t, "probe-1", h.HTTPResponse.Header.Get("X-Request-Id"))
		require.Equal(t, "{\"status\":\"ok\"}\n", string(h.Body), "the body the API answers")
	})

	t.Run("ReadyIsNotReady", func(t *testing.T) {
		r, err := client.GetReadyWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, r.StatusCode())
		require.NotNil(t, r.JSON503, "a Readiness, as the contract says")
		require.Equal(t, oapigen.Readiness{Status: oapigen.ReadinessNotReady,
			Checks: map[string]string{StartupCheck: "pending: migration"}}, *r.JSON503)
	})

	t.Run("EverythingElseIsServiceUnavailable", func(t *testing.T) {
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/v1/sandboxes", ""},
			{"POST", "/v1/sandboxes", `{"profile":"python-default"}`},
			{"GET", "/v1/profiles", ""},
			{"GET", "/metrics", ""},
			{"POST", "/mcp", `{}`},
			{"GET", "/docs", ""},
			{"POST", "/health", ""},
			{"GET", "/nope", ""},
		} {
			r, err := http.NewRequest(req.method, srv.URL+req.path, strings.NewReader(req.body))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(r)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			env := requireError(t, resp, body, http.StatusServiceUnavailable, core.CodeServiceUnavailable)
			require.Equal(t, "1", resp.Header.Get("Retry-After"), req.path)
			require.EqualValues(t, 1000, env.Error.Details["retry_after_ms"])
		}
		require.Contains(t, logs.String(), `"route":"GET /health"`, "requests are logged as on the API")
	})

	t.Run("OpenHandsEverythingOn", func(t *testing.T) {
		var paths []string
		gate.Open(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			paths = append(paths, r.URL.Path)
			w.WriteHeader(http.StatusTeapot)
		}))
		for _, p := range []string{"/health", "/ready", "/v1/sandboxes"} {
			resp, err := http.Post(srv.URL+p, "application/json", bytes.NewReader(nil))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusTeapot, resp.StatusCode)
		}
		require.Equal(t, []string{"/health", "/ready", "/v1/sandboxes"}, paths)
	})
}

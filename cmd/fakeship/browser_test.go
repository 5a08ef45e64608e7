package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/browserclient"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

// TestBrowserMode_Conformance runs Bay's browser suite, through Bay's
// client, against the browser mode, as browser/'s tests run it against
// browserd.
func TestBrowserMode_Conformance(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newBrowserHandler(testToken, t.TempDir(), ""))
	t.Cleanup(srv.Close)
	client := browserclient.New()
	t.Cleanup(client.Close)
	conformance.RunBrowser(t, conformance.BrowserHarness{
		New: func(t *testing.T) (core.Browser, core.Endpoint) {
			return client, core.Endpoint{URL: srv.URL, Token: testToken}
		},
	})
}

func TestBrowserMode_FailHealth(t *testing.T) {
	t.Parallel()
	h := newBrowserHandler(testToken, t.TempDir(), "no browser here")
	rec := request(t, h, "GET", "/health", "", "")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.JSONEq(t, `{"status":"failed","error":"no browser here"}`, rec.Body.String())
	var failed *core.RuntimeFailedError
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	require.ErrorAs(t, browserclient.New().Health(t.Context(), srv.URL), &failed)
	require.Equal(t, "no browser here", failed.Message)
}

func TestBrowserMode_ScreenshotWritesThePath(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	h := newBrowserHandler(testToken, ws, "")
	rec := request(t, h, "POST", "/exec", "Bearer "+testToken, `{"command":{"action":"screenshot","path":"/workspace/shots/a.png"}}`)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"path":"shots/a.png"`)
	b, err := os.ReadFile(filepath.Join(ws, "shots", "a.png"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "\x89PNG"))
	require.Equal(t, http.StatusUnauthorized, request(t, h, "POST", "/exec", "", `{"cmd":"get url"}`).Code)
	require.Equal(t, http.StatusUnprocessableEntity, request(t, h, "POST", "/exec", "Bearer "+testToken, `{}`).Code)
}

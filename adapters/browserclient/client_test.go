package browserclient

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	c := New()
	t.Cleanup(c.Close)
	answer := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ctx := context.Background()
	require.NoError(t, c.Health(ctx, answer(200, `{"status":"healthy"}`)))
	err := c.Health(ctx, answer(503, `{"status":"starting"}`))
	require.Error(t, err)
	var failed *core.RuntimeFailedError
	require.NotErrorAs(t, err, &failed, "starting is not ready yet, not failed")
	err = c.Health(ctx, answer(503, `{"status":"failed","error":"No usable sandbox!"}`))
	require.ErrorAs(t, err, &failed, "failed ends the readiness wait")
	require.Equal(t, "No usable sandbox!", failed.Message)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c := New()
	t.Cleanup(c.Close)
	ctx := context.Background()

	// Nothing listens: unreachable, retryable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = c.Exec(ctx, core.Endpoint{URL: "http://" + addr, Token: "t"}, core.BrowserExecInput{Command: core.BrowserCommand{Cmd: "get url"}})
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	var unreachable *core.ErrUnreachable
	require.ErrorAs(t, err, &unreachable)

	// An error status keeps the runtime's detail.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"detail":[{"loc":["body","command"],"msg":"bad","type":"value_error"}]}`))
	}))
	t.Cleanup(srv.Close)
	_, err = c.Exec(ctx, core.Endpoint{URL: srv.URL, Token: "t"}, core.BrowserExecInput{Command: core.BrowserCommand{Cmd: "get url"}})
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.EqualValues(t, 422, core.AsError(err).Details["status"])
	require.NotNil(t, core.AsError(err).Details["detail"])

	// An answer that is not the contract's.
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	t.Cleanup(junk.Close)
	_, err = c.ExecBatch(ctx, core.Endpoint{URL: junk.URL, Token: "t"}, core.BrowserBatchInput{Commands: []core.BrowserCommand{{Cmd: "get url"}}})
	require.Equal(t, core.CodeShipError, core.CodeOf(err))

	// A runtime that does not check the token is refused.
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"runtime":{"name":"browser","auth":"none"},"capabilities":{"browser":{"operations":["exec"]}}}`))
	}))
	t.Cleanup(open.Close)
	_, err = c.Capabilities(ctx, core.Endpoint{URL: open.URL, Token: "t"})
	require.Equal(t, core.CodeInternal, core.CodeOf(err))
}

func TestTimeoutIsCommandPlusMargin(t *testing.T) {
	t.Parallel()
	c := New()
	t.Cleanup(c.Close)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	start := time.Now()
	_, err := c.Exec(context.Background(), core.Endpoint{URL: srv.URL, Token: "t"},
		core.BrowserExecInput{Command: core.BrowserCommand{Cmd: "wait 100000"}, Timeout: 1})
	require.Equal(t, core.CodeTimeout, core.CodeOf(err))
	elapsed := time.Since(start)
	require.GreaterOrEqual(t, elapsed, time.Second+core.BrowserExecMargin-100*time.Millisecond, "the client waits the command's timeout plus the margin")
	require.Less(t, elapsed, time.Second+core.BrowserExecMargin+3*time.Second)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	c := New()
	require.NoError(t, c.Check(core.BrowserExecInput{Command: core.BrowserCommand{Fields: map[string]any{"action": "navigate", "url": "https://x.test"}}}))
	err := c.Check(core.BrowserExecInput{Command: core.BrowserCommand{Fields: map[string]any{"action": "click", "ref": "e1", "selector": "a"}}})
	require.Equal(t, core.CodeValidation, core.CodeOf(err))
	err = c.CheckBatch(core.BrowserBatchInput{Commands: []core.BrowserCommand{{Cmd: "get url"}, {Cmd: "screenshot /etc/x.png"}}})
	require.Equal(t, core.CodeInvalidPath, core.CodeOf(err))
	require.Equal(t, "commands[1].path", core.AsError(err).Details["field"])
	require.Equal(t, core.PathAbsolute, core.AsError(err).Details["reason"])
}

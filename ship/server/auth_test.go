package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/runas"
)

const unauthorizedBody = `{"detail":"missing or invalid runtime token"}`

func TestNew_RequiresToken(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	s, err := New(Config{Workspace: ws, StateDir: t.TempDir(), Identity: runas.Current(ws)})
	require.ErrorContains(t, err, "runtime token is empty")
	require.Nil(t, s)
}

// send issues one request with the given Authorization value (none when
// empty) and returns the status and body.
func send(t *testing.T, method, target, auth, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(raw)
}

func requireUnauthorized(t *testing.T, resp *http.Response, body string, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, msgAndArgs...)
	require.JSONEq(t, unauthorizedBody, body, msgAndArgs...)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), msgAndArgs...)
	require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer"), msgAndArgs...)
}

func TestServer_Auth(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("NoTokenIs401Everywhere", func(t *testing.T) {
		// Every route, plus an unknown path and a wrong method: all 401,
		// so an unauthenticated client cannot even map the API.
		requests := []struct{ method, path, body string }{
			{"GET", "/", ""},
			{"GET", "/stat", ""},
			{"GET", "/meta", ""},
			{"POST", "/ipython/exec", `{"code":"open('py-pwned','w')"}`},
			{"POST", "/ipython/exec/stream", `{"code":"open('py-pwned','w')"}`},
			{"GET", "/capabilities", ""},
			{"POST", "/exec/exec-000000000000/cancel", ""},
			{"POST", "/shell/exec/stream", `{"command":"touch sh-pwned"}`},
			{"GET", "/ipython/kernel/status", ""},
			{"POST", "/ipython/kernel/restart", ""},
			{"DELETE", "/ipython/kernel", ""},
			{"POST", "/shell/exec", `{"command":"touch sh-pwned"}`},
			{"GET", "/shell/processes", ""},
			{"POST", "/fs/create_file", `{"path":"fs-pwned"}`},
			{"POST", "/fs/write_file", `{"path":"fs-pwned","content":"x"}`},
			{"POST", "/fs/read_file", `{"path":"x"}`},
			{"POST", "/fs/edit_file", `{"path":"x","old_string":"a","new_string":"b"}`},
			{"POST", "/fs/delete_file", `{"path":"x"}`},
			{"POST", "/fs/list_dir", `{}`},
			{"POST", "/fs/upload", ``},
			{"GET", "/fs/download?file_path=x", ""},
			{"GET", "/term/ws", ""},
			{"GET", "/nope", ""},
			{"POST", "/health", ""},
			{"GET", "/health/", ""},
		}
		for _, r := range requests {
			resp, body := send(t, r.method, b.url+r.path, "", r.body)
			requireUnauthorized(t, resp, body, "%s %s", r.method, r.path)
		}
		for _, f := range []string{"py-pwned", "sh-pwned", "fs-pwned"} {
			require.NoFileExists(t, filepath.Join(b.ws, f), "a rejected request must not run")
		}
		require.Equal(t, kernel.StatusNotStarted, b.srv.Kernel().Status(), "a rejected request must not start the kernel")
	})
	t.Run("WrongCredentialIs401", func(t *testing.T) {
		other := strings.Repeat("0", len(b.token))
		for _, auth := range []string{
			"Bearer " + other,
			"Bearer " + b.token[:len(b.token)-1],
			"Bearer " + b.token + "0",
			"Bearer " + strings.ToUpper(b.token),
			"Bearer  " + b.token, // exactly one space separates scheme and token
			"Basic " + b.token,
			"Token " + b.token,
			b.token,
			"Bearer",
			"Bearer ",
		} {
			resp, body := send(t, "GET", b.url+"/meta", auth, "")
			requireUnauthorized(t, resp, body, "Authorization: %q", auth)
		}
	})
	t.Run("TokenInQueryIsNotAccepted", func(t *testing.T) {
		for _, q := range []string{"token", "access_token", "runtime_token", "BAY_RUNTIME_TOKEN"} {
			resp, body := send(t, "GET", b.url+"/meta?"+q+"="+b.token, "", "")
			requireUnauthorized(t, resp, body, "query %s", q)
		}
		resp, body := send(t, "GET", b.url+"/meta?authorization="+url.QueryEscape("Bearer "+b.token), "", "")
		requireUnauthorized(t, resp, body)
	})
	t.Run("SchemeIsCaseInsensitive", func(t *testing.T) {
		// RFC 9110 §11.1: auth scheme names are case-insensitive.
		for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
			resp, body := send(t, "GET", b.url+"/meta", scheme+" "+b.token, "")
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Contains(t, body, `"auth":"bearer"`)
		}
	})
	t.Run("HealthIsOpen", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer wrong"} {
			resp, body := send(t, "GET", b.url+"/health", auth, "")
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.JSONEq(t, `{"status":"healthy"}`, body)
		}
	})
	t.Run("TerminalNeedsToken", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		wsURL := strings.Replace(b.url, "http", "ws", 1) + "/term/ws"
		for _, h := range []http.Header{nil, {"Authorization": {"Bearer wrong"}}} {
			conn, resp, err := websocket.Dial(ctx, wsURL+"?token="+b.token, &websocket.DialOptions{HTTPHeader: h})
			if conn != nil {
				conn.CloseNow()
			}
			require.Error(t, err)
			require.NotNil(t, resp)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		}
	})
}

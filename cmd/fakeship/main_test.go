package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testToken = "0123456789abcdef0123456789abcdef"

func request(t *testing.T, h http.Handler, method, target, auth, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAuth(t *testing.T) {
	t.Parallel()
	h := newHandler(testToken)
	good := "Bearer " + testToken

	t.Run("RejectedWithoutValidToken", func(t *testing.T) {
		for _, target := range []string{"/", "/stat", "/meta", "/nope", "/meta?token=" + testToken} {
			for _, auth := range []string{"", "Bearer wrong", "Basic " + testToken, testToken, "Bearer " + testToken + "0"} {
				rec := request(t, h, "GET", target, auth, "")
				require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %q", target, auth)
				require.JSONEq(t, `{"detail":"missing or invalid runtime token"}`, rec.Body.String())
			}
		}
		rec := request(t, h, "POST", "/fs/write_file", "", `{"path":"a.txt","content":"pwned"}`)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		rec = request(t, h, "POST", "/fs/read_file", good, `{"path":"a.txt"}`)
		require.Equal(t, http.StatusNotFound, rec.Code, "a rejected write must not store anything")
	})
	t.Run("HealthIsOpen", func(t *testing.T) {
		rec := request(t, h, "GET", "/health", "", "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, http.StatusUnauthorized, request(t, h, "POST", "/health", "", "").Code)
	})
	t.Run("MetaAnnouncesBearer", func(t *testing.T) {
		for _, auth := range []string{good, "bearer " + testToken} {
			rec := request(t, h, "GET", "/meta", auth, "")
			require.Equal(t, http.StatusOK, rec.Code)
			var meta struct {
				Runtime map[string]any `json:"runtime"`
			}
			require.NoError(t, json.NewDecoder(rec.Body).Decode(&meta))
			require.Equal(t, "bearer", meta.Runtime["auth"])
		}
	})
	t.Run("FilesWithToken", func(t *testing.T) {
		rec := request(t, h, "POST", "/fs/write_file", good, `{"path":"b.txt","content":"hi"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		rec = request(t, h, "POST", "/fs/read_file", good, `{"path":"b.txt"}`)
		raw, _ := io.ReadAll(rec.Body)
		require.Contains(t, string(raw), `"content":"hi"`)
	})
	t.Run("EmptyTokenMatchesNothing", func(t *testing.T) {
		rec := request(t, newHandler(""), "GET", "/meta", "Bearer ", "")
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	})
}

func TestStreamAndCapabilities(t *testing.T) {
	t.Parallel()
	h := newHandler(testToken)
	good := "Bearer " + testToken

	rec := request(t, h, "POST", "/shell/exec/stream", good, `{"command":"echo hi","timeout":5}`)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/x-ndjson", rec.Header().Get("Content-Type"))
	lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
	require.Len(t, lines, 3, rec.Body.String())
	require.Regexp(t, `^\{"type":"start","pid":\d+\}$`, lines[0])
	require.JSONEq(t, `{"type":"stdout","text":"echo hi"}`, lines[1])
	require.JSONEq(t, `{"type":"end","success":true,"exit_code":0}`, lines[2])

	rec = request(t, h, "POST", "/ipython/exec/stream", good, `{"code":"raise ValueError('x')"}`)
	require.Equal(t, http.StatusOK, rec.Code)
	lines = strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
	require.Len(t, lines, 3, rec.Body.String())
	require.JSONEq(t, `{"type":"start"}`, lines[0])
	require.Contains(t, lines[1], `"type":"error","ename":"ValueError","evalue":"x"`)
	require.Contains(t, lines[2], `"type":"end","execution_count":1,"success":false`)

	rec = request(t, h, "POST", "/ipython/exec/stream", good, `{"code":`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "a bad body is refused before the stream")

	rec = request(t, h, "POST", "/exec/exec-000000000000/cancel", good, "")
	require.Equal(t, http.StatusNotFound, rec.Code)

	rec = request(t, h, "GET", "/capabilities", good, "")
	require.Equal(t, http.StatusOK, rec.Code)
	var doc struct {
		APIVersion   string `json:"api_version"`
		Capabilities map[string]struct {
			Operations []string `json:"operations"`
		} `json:"capabilities"`
	}
	require.NoError(t, json.NewDecoder(rec.Body).Decode(&doc))
	require.Equal(t, "v1", doc.APIVersion)
	require.Equal(t, []string{"exec", "exec_stream", "cancel"}, doc.Capabilities["python"].Operations)
	require.Equal(t, http.StatusUnauthorized, request(t, h, "GET", "/capabilities", "", "").Code)
}

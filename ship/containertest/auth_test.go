package containertest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// tokenProbeBodies are request bodies that would change the workspace if
// they were executed, so a test can check afterwards that nothing ran.
var tokenProbeBodies = map[string]string{
	"/shell/exec":    `{"command":"touch /workspace/pwned-shell"}`,
	"/ipython/exec":  `{"code":"open('/workspace/pwned-python', 'w').close()"}`,
	"/fs/write_file": `{"path":"pwned-fs","content":"x"}`,
	"/fs/read_file":  `{"path":"x"}`,
}

// requireTokenEnforced checks that each path answers 401 in the error shape
// without the token, with a wrong one and with the right one in the query
// string, and that /health stays open.
func requireTokenEnforced(t *testing.T, s *ship, paths ...string) {
	t.Helper()
	for _, path := range paths {
		method := http.MethodGet
		body, isPost := tokenProbeBodies[path]
		if isPost {
			method = http.MethodPost
		}
		for _, c := range []struct{ name, auth, query string }{
			{"no header", "", ""},
			{"wrong token", "Bearer " + randomHex(32), ""},
			{"other scheme", "Basic " + s.token, ""},
			{"token in query", "", "?token=" + s.token},
		} {
			req, err := http.NewRequest(method, s.url+path+c.query, strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s (%s): %s", method, path, c.name, raw)
			require.JSONEq(t, `{"detail":"missing or invalid runtime token"}`, string(raw), "%s %s (%s)", method, path, c.name)
		}
	}
	resp, err := http.Get(s.url + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "/health must answer without the token")
}

func TestShip_RuntimeToken(t *testing.T) {
	t.Parallel()
	// A variable Bay also sets, to prove the environments inspected below
	// were really read (and that only the token was dropped).
	const probe = "BAY_SESSION_ID=ct-token-probe"
	s := start(t, "ship:latest", "", "-e", probe)

	requireTokenEnforced(t, s, "/shell/exec", "/ipython/exec", "/fs/write_file", "/fs/read_file", "/meta")
	out := s.sh(t, "ls -A /workspace")
	require.NotContains(t, out["stdout"], "pwned", "a rejected request must not run")

	resp := s.get(t, "/meta")
	var meta struct {
		Runtime map[string]any `json:"runtime"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&meta))
	resp.Body.Close()
	require.Equal(t, "bearer", meta.Runtime["auth"])

	// Without the header the terminal is refused before the upgrade.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wsURL := strings.Replace(s.url, "http", "ws", 1) + "/term/ws"
	conn, wsResp, err := websocket.Dial(ctx, wsURL, nil)
	if conn != nil {
		conn.CloseNow()
	}
	require.Error(t, err)
	require.NotNil(t, wsResp)
	require.Equal(t, http.StatusUnauthorized, wsResp.StatusCode)

	requireNoToken := func(t *testing.T, what, got string) {
		t.Helper()
		require.Contains(t, got, probe, "%s: the environment was not read", what)
		require.NotContains(t, got, "BAY_RUNTIME_TOKEN", what)
		require.NotContains(t, got, s.token, what)
	}
	requireNoToken(t, "shell env", s.sh(t, "env")["stdout"].(string))
	py := s.py(t, "import os\nprint('\\n'.join(k + '=' + v for k, v in os.environ.items()))", 60)
	requireNoToken(t, "python os.environ", text(py))

	// Keep a terminal shell alive while /proc is scanned, so the kernel
	// (started by the exec above), the terminal and the scanning shell are
	// all there.
	conn, _, err = websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: s.authHeader()})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("echo READY$((6*7))\n")))
	var seen strings.Builder
	for !strings.Contains(seen.String(), "READY42") {
		_, data, err := conn.Read(ctx)
		require.NoError(t, err, seen.String())
		seen.Write(data)
	}

	// As the sandbox user, read every process's environ and cmdline: one
	// line per process ("<cmdline> | <environ>"), then the raw files. Root's
	// processes (tini, Ship, which still holds the variable in its initial
	// environment) must be unreadable; errors are part of the output.
	scan := s.sh(t, `for d in /proc/[0-9]*; do
  printf '%s | ' "$(tr '\0' ' ' < "$d/cmdline")"
  tr '\0' ' ' < "$d/environ"
  echo
done 2>&1
cat /proc/*/environ /proc/*/cmdline 2>&1 | tr '\0' '\n'`)["stdout"].(string)
	require.NotContains(t, scan, s.token, "the token leaked to a process the sandbox user can read")
	require.NotContains(t, scan, "BAY_RUNTIME_TOKEN")
	var kernel, terminal, server bool
	for _, line := range strings.Split(scan, "\n") {
		cmdline, environ, _ := strings.Cut(line, " | ")
		switch {
		case strings.Contains(cmdline, "ipykernel_launcher"):
			kernel = kernel || strings.Contains(environ, probe)
		case strings.TrimSpace(cmdline) == "/bin/bash -l":
			// Exactly: shell commands run as "/bin/bash -l -c ...".
			terminal = terminal || strings.Contains(environ, probe)
		case strings.HasPrefix(cmdline, "/usr/local/bin/ship"):
			server = true
		}
	}
	require.True(t, kernel, "the kernel's environ was not scanned:\n%s", scan)
	require.True(t, terminal, "the terminal's environ was not scanned:\n%s", scan)
	require.True(t, server, "Ship's process was not scanned:\n%s", scan)
}

// TestRuntimes_RefuseToStartWithoutToken: both images exit with a clear
// error instead of serving unauthenticated. (Were one to serve, docker run
// would block until the context ends and the message would be missing.)
func TestRuntimes_RefuseToStartWithoutToken(t *testing.T) {
	t.Parallel()
	for _, image := range []string{"ship:latest", "bay-fake-runtime:latest"} {
		for name, env := range map[string][]string{
			"unset": nil,
			"empty": {"-e", "BAY_RUNTIME_TOKEN="},
		} {
			t.Run(image+"/"+name, func(t *testing.T) {
				requireImage(t, image)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				args := append([]string{"run", "--rm", "--label", label}, env...)
				_, err := docker(ctx, append(args, image)...)
				var de *dockerError
				require.ErrorAs(t, err, &de, "the container must exit with an error")
				require.Contains(t, de.stderr, "BAY_RUNTIME_TOKEN is missing or empty")
			})
		}
	}
}

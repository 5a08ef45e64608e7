package containertest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/browserclient"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

// TestImage_Conformance runs Bay's browser suite, through Bay's client,
// against the image started as Bay starts it.
func TestImage_Conformance(t *testing.T) {
	c := run(t, "", true)
	c.waitReady(t)
	client := browserclient.New()
	t.Cleanup(client.Close)
	conformance.RunBrowser(t, conformance.BrowserHarness{
		New: func(t *testing.T) (core.Browser, core.Endpoint) {
			return client, core.Endpoint{URL: c.url, Token: c.token}
		},
	})
}

// TestImage_SandboxOn: with the seccomp profile, Chromium's own sandbox
// runs, and /health and /meta say so; the container is what Bay asked for.
func TestImage_SandboxOn(t *testing.T) {
	c := run(t, "", true)
	require.Equal(t, true, c.waitReady(t)["chromium_sandbox"])
	info, err := browserclient.New().Info(context.Background(), core.Endpoint{URL: c.url, Token: c.token})
	require.NoError(t, err)
	require.True(t, info.ChromiumSandbox)
	require.Equal(t, "persistent", info.Profile)
	require.Equal(t, "chromium-headless-shell", info.Engine)
	require.Regexp(t, `^\d+\.\d+\.\d+\.\d+$`, info.EngineVersion)
	got, err := docker(context.Background(), "inspect", "-f", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}", c.id)
	require.NoError(t, err)
	require.Equal(t, "1000:1000 true [ALL]", got)
	// Renderers run in user namespaces of their own.
	out, err := docker(context.Background(), "exec", c.id, "sh", "-c",
		`for p in /proc/[0-9]*; do grep -q -- --type=renderer $p/cmdline 2>/dev/null && readlink $p/ns/user; done; readlink /proc/1/ns/user`)
	require.NoError(t, err)
	lines := strings.Fields(out)
	if len(lines) > 1 {
		require.NotEqual(t, lines[len(lines)-1], lines[0], "a renderer shares browserd's user namespace")
	}
}

// TestImage_DockerDefaultSeccomp: Docker's own profile forbids user
// namespaces; auto falls back to --no-sandbox, require fails readiness
// with the reason.
func TestImage_DockerDefaultSeccomp(t *testing.T) {
	auto := run(t, "", false)
	require.Equal(t, false, auto.waitReady(t)["chromium_sandbox"])
	require.Equal(t, true, auto.okExec(t, `{"command":{"action":"navigate","url":"data:text/html,<title>ok</title>"}}`)["success"])

	req := run(t, "", false, "-e", "BROWSERD_CHROMIUM_SANDBOX=require")
	var body map[string]any
	require.Eventually(t, func() bool {
		var code int
		code, body = req.health()
		return code == http.StatusServiceUnavailable && body["status"] == "failed"
	}, 60*time.Second, 50*time.Millisecond, "require without user namespaces fails readiness: %v", body)
	require.Contains(t, body["error"], "sandbox")
}

// TestImage_TokenRequired: browserd does not start without the token.
func TestImage_TokenRequired(t *testing.T) {
	requireImage(t)
	out, err := docker(context.Background(), append(append([]string{"run", "--rm", "--label", label}, hardened...), image)...)
	require.Error(t, err)
	require.Contains(t, err.Error()+out, "BAY_RUNTIME_TOKEN")
}

// TestImage_FilesAndStopKeepsProfile: a screenshot lands in the volume as
// uid 1000; a docker stop (SIGTERM) closes Chromium within the grace, and
// the next container on the volume finds the cookie and the localStorage
// item (browser.md §1.5, §3.7).
func TestImage_FilesAndStopKeepsProfile(t *testing.T) {
	requireImage(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/state.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>State</title><script>document.cookie='who=ada; max-age=3600'; localStorage.setItem('k','v');</script>`)
	})
	mux.HandleFunc("/empty.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>Empty</title>`)
	})
	web := hostURL(t, mux)
	first := run(t, "", true)
	first.waitReady(t)
	first.okExec(t, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web+"/state.html"))
	first.okExec(t, `{"command":{"action":"screenshot","path":"shots/a.png"}}`)
	owner, err := docker(context.Background(), "exec", first.id, "stat", "-c", "%u:%g", "/workspace/shots/a.png")
	require.NoError(t, err)
	require.Equal(t, "1000:1000", owner)

	start := time.Now()
	_, err = docker(context.Background(), "stop", "-t", "10", first.id)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "browserd stops well within the grace")
	code, err := docker(context.Background(), "inspect", "-f", "{{.State.ExitCode}}", first.id)
	require.NoError(t, err)
	require.Equal(t, "0", code)

	second := run(t, first.volume, true)
	second.waitReady(t)
	second.okExec(t, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web+"/empty.html"))
	got := second.okExec(t, `{"command":{"action":"evaluate","expression":"document.cookie"}}`)
	require.Contains(t, got["output"], "who=ada")
	got = second.okExec(t, `{"command":{"action":"evaluate","expression":"localStorage.getItem('k')"}}`)
	require.Equal(t, `"v"`, got["output"])
}

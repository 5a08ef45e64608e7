package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRun_BadConfigExitsNonZeroListingEveryProblem(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve"}, []string{
		"BAY_CONFIG_FILE=/nonexistent", "BAY_SERVER__PORT=x", "BAY_DRIVER__TYPE=nomad", "BAY_LOG__LEVEL=loud",
	}, &stdout, &stderr)
	require.Equal(t, 1, code)
	for _, want := range []string{"server.port", "driver.type", "log.level"} {
		require.Contains(t, stderr.String(), want)
	}
}

func TestRun_Version(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"version"}, nil, &stdout, &stderr))
	require.Contains(t, stdout.String(), "bay ")
}

func TestRun_MigrateUpStatusDown(t *testing.T) {
	t.Parallel()
	env := []string{"BAY_CONFIG_FILE=/nonexistent", "BAY_DATABASE__URL=sqlite:///" + filepath.Join(t.TempDir(), "m.db")}
	for _, step := range []struct{ args, want string }{
		{"status", "pending"},
		{"up", "applied 00001"},
		{"up", "up to date"},
		{"status", "applied 20"},
		{"down", "rolled back 00005"},
		{"down", "rolled back 00004"},
		{"down", "rolled back 00003"},
		{"down", "rolled back 00002"},
		{"down", "rolled back 00001"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"migrate", step.args}, env, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		require.Contains(t, stdout.String(), step.want)
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"migrate", "sideways"}, env, &stdout, &stderr))
}

func TestRun_ServeHealthAndGracefulStop(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	env := []string{
		"BAY_CONFIG_FILE=/nonexistent",
		"BAY_SERVER__HOST=127.0.0.1",
		fmt.Sprintf("BAY_SERVER__PORT=%d", port),
		"BAY_DATABASE__URL=sqlite:///" + filepath.Join(t.TempDir(), "s.db"),
		"BAY_GC__ENABLED=false",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() { done <- run(ctx, []string{"serve"}, env, &stdout, &stderr) }()

	url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			break
		}
		require.True(t, time.Now().Before(deadline), "bay did not answer /health: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(20 * time.Second):
		t.Fatal("bay did not stop after cancel")
	}
}

func TestRun_Images(t *testing.T) {
	t.Parallel()
	env := []string{"BAY_CONFIG_FILE=/nonexistent"}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"images"}, env, &stdout, &stderr), stderr.String())
	require.Equal(t, "ship:latest\n", stdout.String(), "the default profile's image, which the helpers use too")

	stdout.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"images", "--all"}, env, &stdout, &stderr), stderr.String())
	require.Equal(t, "ship:latest\nship:data\nbay-browser:latest\n", stdout.String(), "every container's image")

	stdout.Reset()
	env = append(env, "BAY_DRIVER__DOCKER__GUARD_IMAGE=bay-guard:1", `BAY_PROFILES=[{"id":"other","image":"x:1"},{"id":"python-default","image":"y:2"}]`)
	require.Equal(t, 0, run(context.Background(), []string{"images"}, env, &stdout, &stderr), stderr.String())
	require.Equal(t, "y:2\nbay-guard:1\n", stdout.String())

	require.Equal(t, 2, run(context.Background(), []string{"images", "--some"}, env, &stdout, &stderr))
}

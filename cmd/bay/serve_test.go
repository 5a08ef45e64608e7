package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startingBay is a serveWith running in the test, on a fresh SQLite file
// and a Docker socket that does not exist: nothing here needs Docker.
type startingBay struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func serveForTest(t *testing.T, hooks startHooks) *startingBay {
	t.Helper()
	port := freePort(t)
	cfg, _, err := LoadConfig("", []string{
		"BAY_CONFIG_FILE=/nonexistent",
		"BAY_SERVER__HOST=127.0.0.1",
		fmt.Sprintf("BAY_SERVER__PORT=%d", port),
		"BAY_DATABASE__URL=sqlite:///" + filepath.Join(t.TempDir(), "s.db"),
		"BAY_DRIVER__DOCKER__SOCKET=unix://" + filepath.Join(t.TempDir(), "no-docker.sock"),
		"BAY_GC__ENABLED=false",
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	b := &startingBay{url: fmt.Sprintf("http://127.0.0.1:%d", port), cancel: cancel, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	go func() { b.done <- serveWith(ctx, cfg, nil, logger, hooks) }()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// get returns the status and the JSON body of GET path.
func (b *startingBay) get(t require.TestingT, path string) (int, map[string]any) {
	resp, err := http.Get(b.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body), string(raw))
	return resp.StatusCode, body
}

// stopped waits for serveWith to return after cancel.
func (b *startingBay) stopped(t *testing.T) error {
	t.Helper()
	b.cancel()
	select {
	case err := <-b.done:
		b.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("bay did not stop after cancel")
		return nil
	}
}

// hold returns a hook that says when it is reached and waits for release
// (or the end of ctx), and the two channels.
func hold() (hook func(ctx context.Context) error, reached, release chan struct{}) {
	reached, release = make(chan struct{}), make(chan struct{})
	return func(ctx context.Context) error {
		close(reached)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, reached, release
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("start-up never reached %s", what)
	}
}

func startupCheck(body map[string]any) any {
	checks, _ := body["checks"].(map[string]any)
	return checks["startup"]
}

// TestServe_StartUp: liveness answers at once, the API only once the
// database is migrated, and readiness only once reconcile has made its
// first pass.
func TestServe_StartUp(t *testing.T) {
	t.Parallel()
	migrate, migrating, migrated := hold()
	reconcile, reconciling, reconciled := hold()
	b := serveForTest(t, startHooks{
		beforeMigrate:   migrate,
		beforeReconcile: func(ctx context.Context) { _ = reconcile(ctx) },
	})
	waitFor(t, migrating, "the migrations")

	code, body := b.get(t, "/health")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"status": "ok"}, body)
	for _, path := range []string{"/v1/sandboxes", "/v1/profiles", "/metrics", "/openapi.json"} {
		code, body := b.get(t, path)
		require.Equal(t, http.StatusServiceUnavailable, code, path)
		require.Equal(t, "service_unavailable", body["error"].(map[string]any)["code"], path)
	}
	code, body = b.get(t, "/ready")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"status": "not_ready", "checks": map[string]any{"startup": "pending: migration"}}, body)

	close(migrated)
	waitFor(t, reconciling, "reconcile")
	// The API opens once the migrations are applied: its first answer
	// already reads the migrated database.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := b.get(c, "/v1/sandboxes")
		require.Equal(c, http.StatusOK, code, "%v", body)
		require.Contains(c, body, "items")
	}, 20*time.Second, 10*time.Millisecond)
	code, body = b.get(t, "/ready")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "not_ready", body["status"])
	require.Equal(t, "pending: reconcile", startupCheck(body))
	require.Equal(t, "ok", body["checks"].(map[string]any)["database"])

	close(reconciled)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, body := b.get(c, "/ready")
		require.Equal(c, "ok", startupCheck(body))
	}, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, b.stopped(t))
}

// TestServe_StopsCleanlyDuringStartUp: a signal while the database is
// being migrated, or while reconcile runs, stops Bay without an error.
func TestServe_StopsCleanlyDuringStartUp(t *testing.T) {
	t.Parallel()
	t.Run("Migration", func(t *testing.T) {
		t.Parallel()
		migrate, migrating, _ := hold()
		b := serveForTest(t, startHooks{beforeMigrate: migrate})
		waitFor(t, migrating, "the migrations")
		code, _ := b.get(t, "/health")
		require.Equal(t, http.StatusOK, code)
		require.NoError(t, b.stopped(t))
		_, err := http.Get(b.url + "/health")
		require.Error(t, err, "the listener is closed")
	})
	t.Run("Reconcile", func(t *testing.T) {
		t.Parallel()
		reconcile, reconciling, _ := hold()
		b := serveForTest(t, startHooks{beforeReconcile: func(ctx context.Context) { _ = reconcile(ctx) }})
		waitFor(t, reconciling, "reconcile")
		require.NoError(t, b.stopped(t))
	})
}

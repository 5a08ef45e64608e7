package httpapi

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

func TestServer_PausedSandbox(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := b.createSandbox(t, "", "python-only")
	py, err := b.client.ExecPythonWithResponse(ctx, id, oapigen.PythonExecRequest{Code: "print(1)"})
	require.NoError(t, err)
	require.Equal(t, 200, py.StatusCode(), string(py.Body))

	b.clock.Advance(20 * time.Second)
	n, err := b.sandboxes.PauseIdle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	got, err := b.client.GetSandboxWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 200, got.StatusCode())
	require.Equal(t, oapigen.SandboxStatusIdle, got.JSON200.Status)
	require.True(t, got.JSON200.Paused)
	require.Nil(t, got.JSON200.StopReason, "a pause is no stop")
	require.Equal(t, "paused", (*got.JSON200.Containers)[0].Status)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(got.Body, &raw))
	require.Equal(t, true, raw["paused"])

	idle := "idle"
	list, err := b.client.ListSandboxesWithResponse(ctx, &oapigen.ListSandboxesParams{Status: &idle})
	require.NoError(t, err)
	require.Len(t, list.JSON200.Items, 1)
	require.True(t, list.JSON200.Items[0].Paused)

	py, err = b.client.ExecPythonWithResponse(ctx, id, oapigen.PythonExecRequest{Code: "print(2)"})
	require.NoError(t, err)
	require.Equal(t, 200, py.StatusCode(), string(py.Body))
	got, err = b.client.GetSandboxWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, oapigen.SandboxStatusReady, got.JSON200.Status)
	require.False(t, got.JSON200.Paused)
}

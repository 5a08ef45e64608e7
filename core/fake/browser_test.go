package fake_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
	"github.com/bayhq/bay/core/fake"
)

// TestBrowser_Conformance holds the in-memory Browser to the suite that
// browserclient passes against browserd and cmd/fakeship's browser mode.
func TestBrowser_Conformance(t *testing.T) {
	t.Parallel()
	b := fake.NewBrowser()
	const token = "tok"
	b.CheckTokens(func(string) string { return token })
	conformance.RunBrowser(t, conformance.BrowserHarness{
		New: func(t *testing.T) (core.Browser, core.Endpoint) {
			return b, core.Endpoint{URL: "http://fake-browser:8124", Token: token}
		},
	})
}

func TestBrowser_DownAndFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := fake.NewBrowser()
	ep := core.Endpoint{URL: "http://b:8124", Token: "x"}
	require.NoError(t, b.Health(ctx, ep.URL))
	b.SetFailed(ep.URL, "No usable sandbox!")
	var failed *core.RuntimeFailedError
	require.ErrorAs(t, b.Health(ctx, ep.URL), &failed)
	require.Equal(t, "No usable sandbox!", failed.Message)
	b.SetFailed(ep.URL, "")
	b.SetDown(ep.URL, true)
	_, err := b.Exec(ctx, ep, core.BrowserExecInput{Command: core.BrowserCommand{Cmd: "get url"}})
	var unreachable *core.ErrUnreachable
	require.ErrorAs(t, err, &unreachable)
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	b.SetDown(ep.URL, false)
	_, err = b.Exec(ctx, ep, core.BrowserExecInput{Command: core.BrowserCommand{Cmd: "get url"}})
	require.NoError(t, err)
	require.Equal(t, 1, b.Calls("Exec"))
}

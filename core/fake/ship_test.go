package fake_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
	"github.com/bayhq/bay/core/fake"
)

// TestShip_Conformance holds the in-memory Ship to the suite that
// shipclient passes against Ship and cmd/fakeship, so services tested on
// the fake see what they would see from a runtime.
func TestShip_Conformance(t *testing.T) {
	t.Parallel()
	conformance.RunShip(t, conformance.ShipHarness{
		New: func(t *testing.T) (core.Ship, core.Endpoint) {
			// A container of the fake runtime holds the token; the fake
			// Ship checks it as Ship does.
			ctx := context.Background()
			rt := fake.NewRuntime(fake.RuntimeOptions{})
			ship := fake.NewShip()
			ship.CheckTokens(rt)
			token := core.NewRuntimeToken()
			id, err := rt.CreateContainer(ctx, core.ContainerSpec{
				SessionID: "sess-1", SandboxID: "sandbox-1", LockerID: "locker-1", RuntimeToken: token,
				Profile: &core.Profile{ID: "p", Image: "ship:test", RuntimePort: core.DefaultRuntimePort},
			})
			require.NoError(t, err)
			url, err := rt.StartContainer(ctx, id, core.DefaultRuntimePort)
			require.NoError(t, err)
			return ship, core.Endpoint{URL: url, Token: token}
		},
	})
}

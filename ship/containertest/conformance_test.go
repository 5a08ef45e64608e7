package containertest

import (
	"testing"

	"github.com/bayhq/bay/adapters/shipclient"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

// TestImages_ShipConformance runs Bay's Ship suite, through Bay's client,
// against the images Bay starts, as ship/server and cmd/fakeship run it
// in-process. One container per image serves every test of the suite.
func TestImages_ShipConformance(t *testing.T) {
	t.Parallel()
	for _, image := range []string{"ship:latest", "bay-fake-runtime:latest"} {
		t.Run(image, func(t *testing.T) {
			t.Parallel()
			s := start(t, image, "")
			client := shipclient.New()
			t.Cleanup(client.Close)
			conformance.RunShip(t, conformance.ShipHarness{
				New: func(*testing.T) (core.Ship, core.Endpoint) {
					return client, core.Endpoint{URL: s.url, Token: s.token}
				},
			})
		})
	}
}

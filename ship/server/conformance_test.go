package server

import (
	"testing"

	"github.com/bayhq/bay/adapters/shipclient"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

// TestServer_ShipConformance runs Bay's Ship suite, through Bay's client,
// against this server; core/fake's Ship and cmd/fakeship run the same
// suite, so the three cannot drift apart.
func TestServer_ShipConformance(t *testing.T) {
	t.Parallel()
	requireKernel(t)
	client := shipclient.New()
	t.Cleanup(client.Close)
	conformance.RunShip(t, conformance.ShipHarness{
		New: func(t *testing.T) (core.Ship, core.Endpoint) {
			b := setup(t)
			return client, core.Endpoint{URL: b.url, Token: b.token}
		},
	})
}

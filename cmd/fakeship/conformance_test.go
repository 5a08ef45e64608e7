package main

import (
	"net/http/httptest"
	"testing"

	"github.com/bayhq/bay/adapters/shipclient"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/conformance"
)

// TestHandler_ShipConformance runs Bay's Ship suite, through Bay's client,
// against this fake, as ship/server's tests run it against Ship.
func TestHandler_ShipConformance(t *testing.T) {
	t.Parallel()
	client := shipclient.New()
	t.Cleanup(client.Close)
	conformance.RunShip(t, conformance.ShipHarness{
		New: func(t *testing.T) (core.Ship, core.Endpoint) {
			srv := httptest.NewServer(newHandler(testToken))
			t.Cleanup(srv.Close)
			return client, core.Endpoint{URL: srv.URL, Token: testToken}
		},
	})
}

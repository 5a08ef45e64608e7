package core

import (
	"context"
	"time"
)

// Call exposes call to the tests of package core_test: a capability call
// of no particular kind, fn getting the endpoint it is routed to.
func (s *SandboxService) Call(ctx context.Context, owner, id, capability string, busy time.Duration,
	fn func(ctx context.Context, ep Endpoint) error) error {
	return s.call(ctx, owner, id, capability, busy, nil, fn)
}

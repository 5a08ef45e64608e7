package core

import (
	"context"
	"time"
)

// browserBusyMargin is added to a browser call's timeout when Bay marks the
// sandbox busy for it (browser.md §3.1: busy = timeout + 10 s).
const browserBusyMargin = 10 * time.Second

// browser returns the browser runtime's client, or nil when none is wired.
func (s *SandboxService) browser() Browser {
	b, _ := s.clients[RuntimeTypeBrowser].(Browser)
	return b
}

// browserCall runs a browser call through the capability pipeline: sandbox
// lookup (404), profile capability (400), the request's shape with the
// runtime's grammar (422, invalid_path) before any start, then the call on
// the browser container.
func (s *SandboxService) browserCall(ctx context.Context, owner, id string, timeout time.Duration,
	check func(Browser) error, fn func(ctx context.Context, b Browser, ep Endpoint) error) error {
	b := s.browser()
	validate := func() error {
		if b == nil {
			return Errorf(CodeInternal, "Unsupported runtime type: %s", RuntimeTypeBrowser)
		}
		return check(b)
	}
	return s.call(ctx, owner, id, CapabilityBrowser, timeout+browserBusyMargin, validate,
		func(ctx context.Context, ep Endpoint) error { return fn(ctx, b, ep) })
}

// BrowserExec runs one browser command in the sandbox's browser container
// (browser.md §3), starting the session if needed. A command that fails is
// a result (Success false), not an error.
func (s *SandboxService) BrowserExec(ctx context.Context, owner, id string, in BrowserExecInput) (*BrowserResult, error) {
	var out *BrowserResult
	err := s.browserCall(ctx, owner, id, in.TimeoutOrDefault(),
		func(b Browser) error { return b.Check(in) },
		func(ctx context.Context, b Browser, ep Endpoint) (err error) {
			out, err = b.Exec(ctx, ep, in)
			return err
		})
	return out, err
}

// BrowserExecBatch runs browser commands in order within one budget.
func (s *SandboxService) BrowserExecBatch(ctx context.Context, owner, id string, in BrowserBatchInput) (*BrowserBatchResult, error) {
	var out *BrowserBatchResult
	err := s.browserCall(ctx, owner, id, in.TimeoutOrDefault(),
		func(b Browser) error { return b.CheckBatch(in) },
		func(ctx context.Context, b Browser, ep Endpoint) (err error) {
			out, err = b.ExecBatch(ctx, ep, in)
			return err
		})
	return out, err
}

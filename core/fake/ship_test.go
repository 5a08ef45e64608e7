package fake_test

import (
	"context"
	"strings"
	"testing"
	"time"

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

func TestShip_CapabilitiesSetters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ship := fake.NewShip()
	ep := core.Endpoint{URL: "http://runtime.test"}

	caps, err := ship.Capabilities(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, []string{"filesystem", "python", "shell", "terminal"}, caps.Keys())
	require.True(t, caps.Has(core.CapabilityPython, core.OpExecStream))
	require.True(t, caps.Has(core.CapabilityShell, core.OpCancel))

	ship.SetCapabilities(core.CapabilityPython, "custom")
	caps, err = ship.Capabilities(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, core.RuntimeCapabilities{"python": {"exec", "exec_stream", "cancel"}, "custom": {}}, caps)

	// An older image: python without streams.
	ship.SetRuntimeCapabilities(core.RuntimeCapabilities{core.CapabilityPython: {"exec"}})
	caps, err = ship.Capabilities(ctx, ep)
	require.NoError(t, err)
	require.True(t, caps.Has(core.CapabilityPython, ""))
	require.False(t, caps.Has(core.CapabilityPython, core.OpExecStream))
	caps[core.CapabilityPython][0] = "changed"
	again, err := ship.Capabilities(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, []string{"exec"}, again[core.CapabilityPython], "callers get a copy")

	info, err := ship.RuntimeInfo(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"python": map[string]any{"operations": []any{"exec"}}}, info["capabilities"])
	ship.SetRuntimeInfoMissing(true)
	_, err = ship.RuntimeInfo(ctx, ep)
	require.Equal(t, core.CodeNotFound, core.CodeOf(err))
	ship.SetRuntimeInfoMissing(false)
	_, err = ship.RuntimeInfo(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, 3, ship.Calls("RuntimeInfo"))
}

func TestShip_StreamsEcho(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ship := fake.NewShip()
	ep := core.Endpoint{URL: "http://runtime.test"}

	var events []core.StreamEvent
	sink := func(ev core.StreamEvent) { events = append(events, ev) }
	end, err := ship.PythonStream(ctx, ep, "x = 1", 5, "", sink)
	require.NoError(t, err)
	one := int64(1)
	require.Equal(t, []core.StreamEvent{{Type: "stdout", Text: "x = 1"}}, events)
	require.Equal(t, &core.StreamEnd{Success: true, ExecutionCount: &one}, end)

	events = nil
	end, err = ship.ShellStream(ctx, ep, core.ShellInput{Command: "ls", Timeout: 5}, sink)
	require.NoError(t, err)
	require.Equal(t, []core.StreamEvent{{Type: "stdout", Text: "ls"}}, events)
	require.True(t, end.Success)
	require.EqualValues(t, 0, *end.ExitCode)

	res, err := ship.Python(ctx, ep, `raise KeyError('k')`, 5, "")
	require.NoError(t, err)
	require.False(t, res.Success)
	require.Empty(t, res.Output)
	require.True(t, strings.HasSuffix(*res.Error, "\nKeyError: k"), *res.Error)
	require.Equal(t, 1, ship.Calls("PythonStream"))
	require.Equal(t, 1, ship.Calls("ShellStream"))

	ship.SetDown(ep.URL, true)
	_, err = ship.PythonStream(ctx, ep, "1", 5, "", sink)
	var unreachable *core.ErrUnreachable
	require.ErrorAs(t, err, &unreachable)
}

// TestShip_BlockAndCancel: a call held in Block is in flight; Cancel of
// its execution id ends it as cancelled, and only while it runs.
func TestShip_BlockAndCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ship := fake.NewShip()
	ep := core.Endpoint{URL: "http://runtime.test"}
	inCall := make(chan struct{}, 4)
	ship.Block = func(ctx context.Context) {
		inCall <- struct{}{}
		<-ctx.Done()
	}

	type outcome struct {
		events []core.StreamEvent
		end    *core.StreamEnd
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		o.end, o.err = ship.PythonStream(ctx, ep, "long()", 300, "exec-000000000001", func(ev core.StreamEvent) {
			o.events = append(o.events, ev)
		})
		done <- o
	}()
	<-inCall
	require.Equal(t, core.CodeNotFound, core.CodeOf(ship.Cancel(ctx, ep, "exec-000000000002")))
	require.Equal(t, core.CodeNotFound, core.CodeOf(ship.Cancel(ctx, core.Endpoint{URL: "http://other.test"}, "exec-000000000001")),
		"execution ids belong to an endpoint")
	require.NoError(t, ship.Cancel(ctx, ep, "exec-000000000001"))
	o := <-done
	require.NoError(t, o.err)
	require.True(t, o.end.Cancelled)
	require.False(t, o.end.Success)
	require.Contains(t, *o.end.Error, "KeyboardInterrupt")
	require.Equal(t, "stdout", o.events[0].Type, "the output came before the call was held")
	require.Equal(t, "error", o.events[len(o.events)-1].Type)
	require.Equal(t, core.CodeNotFound, core.CodeOf(ship.Cancel(ctx, ep, "exec-000000000001")), "over: nothing to cancel")

	shellDone := make(chan error, 1)
	var res *core.ShellResult
	go func() {
		var err error
		res, err = ship.Shell(ctx, ep, core.ShellInput{Command: "make", Timeout: 300, ExecID: "exec-000000000003"})
		shellDone <- err
	}()
	<-inCall
	require.NoError(t, ship.Cancel(ctx, ep, "exec-000000000003"))
	require.NoError(t, <-shellDone)
	require.False(t, res.Success)
	require.EqualValues(t, -1, *res.ExitCode)
}

// TestShip_SleepTimesOut: a sleep past the timeout ends as Ship's does.
func TestShip_SleepTimesOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ship := fake.NewShip()
	ep := core.Endpoint{URL: "http://runtime.test"}
	res, err := ship.Python(ctx, ep, "import time; time.sleep(0.05)", 5, "")
	require.NoError(t, err)
	require.True(t, res.Success)
	require.Empty(t, res.Output, "a sleep prints nothing")
	end, err := ship.PythonStream(ctx, ep, "time.sleep(3)", 1, "", nil)
	require.NoError(t, err)
	require.True(t, end.TimedOut)
	require.Equal(t, "Code execution timed out after 1 seconds", *end.Error)

	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = ship.Shell(tctx, ep, core.ShellInput{Command: "sleep 10", Timeout: 30})
	require.Equal(t, core.CodeTimeout, core.CodeOf(err), "the caller's deadline, as shipclient reports it")
}

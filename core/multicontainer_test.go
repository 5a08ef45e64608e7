package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

const capBrowser = "browser"

// browserPythonProfile is browser.md §1.1's profile: Ship owns the
// network, a browser joins it.
func browserPythonProfile(id string) core.Profile {
	ship := core.ContainerProfile{
		Name: "ship", RuntimeType: core.RuntimeTypeShip, Image: "ship:latest", Port: 8123, CPUs: 1, MemoryBytes: 1 << 30,
		Capabilities: []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython},
	}
	browser := core.ContainerProfile{
		Name: "browser", RuntimeType: core.RuntimeTypeBrowser, Image: "bay-browser:latest", Port: 8124, CPUs: 1,
		MemoryBytes: 1 << 30, PidsLimit: 1024, ShmBytes: 256 << 20, Capabilities: []string{capBrowser},
		Browser: &core.BrowserSettings{ChromiumSandbox: core.ChromiumSandboxAuto, PersistProfile: true},
	}
	return core.Profile{
		ID: id, Image: ship.Image, RuntimeType: ship.RuntimeType, RuntimePort: ship.Port, CPUs: 1, MemoryBytes: 1 << 30,
		Capabilities: []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython, capBrowser},
		IdleTimeout:  30 * time.Minute, Containers: []core.ContainerProfile{ship, browser},
	}
}

// fakeMeta is a runtime client (core.RuntimeMeta) of the browser type: it
// declares the browser capability, checks the token against the runtime,
// and lets tests fail or hold its /health and take endpoints down.
type fakeMeta struct {
	rt *fake.Runtime

	mu       sync.Mutex
	health   func(endpoint string) error // nil: healthy
	down     map[string]bool
	probed   []string // endpoints of the /health calls
	metaSeen []core.Endpoint
}

func newFakeMeta(rt *fake.Runtime) *fakeMeta { return &fakeMeta{rt: rt, down: map[string]bool{}} }

func (m *fakeMeta) Health(ctx context.Context, endpoint string) error {
	m.mu.Lock()
	m.probed = append(m.probed, endpoint)
	h := m.health
	m.mu.Unlock()
	if h != nil {
		return h(endpoint)
	}
	return nil
}

func (m *fakeMeta) Capabilities(ctx context.Context, ep core.Endpoint) (core.RuntimeCapabilities, error) {
	m.mu.Lock()
	m.metaSeen = append(m.metaSeen, ep)
	down := m.down[ep.URL]
	m.mu.Unlock()
	if down {
		return nil, core.Wrap(&core.ErrUnreachable{Err: io.ErrUnexpectedEOF}, core.CodeShipError, "browser runtime unreachable")
	}
	if want := m.rt.RuntimeToken(ep.URL); want == "" || want != ep.Token {
		return nil, core.Errorf(core.CodeShipError, "browser runtime answered 401")
	}
	return core.RuntimeCapabilities{capBrowser: {"navigate", "snapshot"}}, nil
}

func (m *fakeMeta) setDown(endpoint string, down bool) {
	m.mu.Lock()
	m.down[endpoint] = down
	m.mu.Unlock()
}

type multiBundle struct {
	*testBundle
	browser *fakeMeta
}

// setupMulti returns a service whose profiles are profiles, with a browser
// client registered, on a fresh store and fakes.
func setupMulti(t *testing.T, profiles ...core.Profile) (*core.SandboxService, *multiBundle) {
	t.Helper()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock, Endpoint: func(info core.ContainerInfo, port int) string {
		return fmt.Sprintf("http://%s:%d", info.ID, port)
	}})
	ship := fake.NewShip()
	ship.CheckTokens(rt)
	meta := newFakeMeta(rt)
	svc := multiInstance(store, rt, ship, meta, clock, "bay-a", profiles...)
	return svc, &multiBundle{
		testBundle: &testBundle{ctx: context.Background(), store: store, runtime: rt, ship: ship, clock: clock,
			gc: core.NewGC(core.GCOptions{Store: store, Runtime: rt, Clock: clock, Sandboxes: svc, InstanceID: "bay-a",
				Tasks: map[string]bool{core.GCIdleSession: true, core.GCExpiredSandbox: true, core.GCOrphanContainer: true}})},
		browser: meta,
	}
}

func multiInstance(store core.Store, rt *fake.Runtime, ship *fake.Ship, meta *fakeMeta, clock *fake.Clock, instance string, profiles ...core.Profile) *core.SandboxService {
	return core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: core.RandomIDs{}, Profiles: profiles,
		RuntimeClients: map[string]core.RuntimeMeta{core.RuntimeTypeBrowser: meta},
		InstanceID:     instance, ReadinessTimeout: 5 * time.Second,
	})
}

// sessionOf returns the sandbox's current session.
func sessionOf(t *testing.T, b *multiBundle, sandboxID string) *core.Session {
	t.Helper()
	sb, err := b.store.Sandboxes().Get(b.ctx, sandboxID)
	require.NoError(t, err)
	require.NotEmpty(t, sb.CurrentSessionID)
	sess, err := b.store.Sessions().Get(b.ctx, sb.CurrentSessionID)
	require.NoError(t, err)
	return sess
}

// listSession returns the runtime's containers of a session by name.
func listSession(t *testing.T, b *multiBundle, sessionID string) map[string]core.ContainerInfo {
	t.Helper()
	list, err := b.runtime.ListContainers(b.ctx, map[string]string{core.LabelSessionID: sessionID})
	require.NoError(t, err)
	out := map[string]core.ContainerInfo{}
	for _, c := range list {
		out[c.Labels[core.LabelContainer]] = c
	}
	return out
}

func TestMultiContainer_StartRoutesAndStops(t *testing.T) {
	t.Parallel()
	svc, b := setupMulti(t, browserPythonProfile("browser-python"))
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
	require.NoError(t, err)

	res, err := svc.Python(b.ctx, "alice", sb.ID, "print(1)", 30)
	require.NoError(t, err)
	require.True(t, res.Success)

	sess := sessionOf(t, b, sb.ID)
	require.Equal(t, core.SessionRunning, sess.ObservedState)
	require.Len(t, sess.Containers, 2)
	ship, browser := sess.Containers[0], sess.Containers[1]
	require.Equal(t, "ship", ship.Name)
	require.Equal(t, "browser", browser.Name)
	require.Equal(t, []string{capBrowser}, browser.Capabilities)
	require.Equal(t, ship.ContainerID, sess.ContainerID, "the session row mirrors the network owner")
	require.Equal(t, ship.Endpoint, sess.Endpoint)
	require.Equal(t, fmt.Sprintf("http://%s:8124", browser.ContainerID), browser.Endpoint)

	cs := listSession(t, b, sess.ID)
	require.Len(t, cs, 2)
	require.Equal(t, core.ContainerName(sess.ID), cs["ship"].Name)
	require.Equal(t, core.ContainerName(sess.ID)+"-browser", cs["browser"].Name)
	require.Empty(t, cs["ship"].NetworkOwner)
	require.Equal(t, ship.ContainerID, cs["browser"].NetworkOwner, "the browser joins Ship's namespace")
	require.Equal(t, cs["ship"].Env[core.EnvRuntimeToken], cs["browser"].Env[core.EnvRuntimeToken], "one token per session")
	require.Equal(t, sess.RuntimeToken, cs["browser"].Env[core.EnvRuntimeToken])
	require.Equal(t, "auto", cs["browser"].Env["BROWSERD_CHROMIUM_SANDBOX"])
	require.Equal(t, []string{ship.ContainerID, browser.ContainerID}, b.runtime.Started(), "the owner starts first")
	spec, ok := b.runtime.Spec(browser.ContainerID)
	require.True(t, ok)
	require.Equal(t, core.BrowserUser, spec.Security().User)
	require.True(t, spec.Security().ReadOnlyRootfs)

	// The browser's /meta was read through its own client at start: a
	// page can reach every runtime, so each must check the token.
	require.Contains(t, b.browser.metaSeen, core.Endpoint{URL: browser.Endpoint, Token: sess.RuntimeToken})

	// Routing: each capability goes to its container's endpoint.
	var got []core.Endpoint
	record := func(ctx context.Context, ep core.Endpoint) error { got = append(got, ep); return nil }
	require.NoError(t, svc.Call(b.ctx, "alice", sb.ID, capBrowser, 0, record))
	require.NoError(t, svc.Call(b.ctx, "alice", sb.ID, core.CapabilityShell, 0, record))
	require.Equal(t, []core.Endpoint{
		{URL: browser.Endpoint, Token: sess.RuntimeToken}, {URL: ship.Endpoint, Token: sess.RuntimeToken},
	}, got)
	_, err = svc.Shell(b.ctx, "alice", sb.ID, core.ShellInput{Command: "ls", Timeout: 5})
	require.NoError(t, err)
	require.Equal(t, 2, len(b.runtime.Started()), "no new start")

	info, err := svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, []core.ContainerStatus{
		{Name: "ship", RuntimeType: "ship", Status: "running"}, {Name: "browser", RuntimeType: "browser", Status: "running"},
	}, info.Containers)

	// Stop: the browser gets its grace, then the others go, the owner last.
	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID))
	require.Equal(t, []fake.Stop{{ContainerID: browser.ContainerID, Grace: 10 * time.Second}}, b.runtime.Stopped())
	require.Equal(t, []string{browser.ContainerID, ship.ContainerID}, b.runtime.Removed())
	require.Empty(t, listSession(t, b, sess.ID))
	info, err = svc.Get(b.ctx, "alice", sb.ID)
	require.NoError(t, err)
	require.Equal(t, []core.ContainerStatus{
		{Name: "ship", RuntimeType: "ship", Status: "stopped"}, {Name: "browser", RuntimeType: "browser", Status: "stopped"},
	}, info.Containers)
}

func TestMultiContainer_DeleteAndIdleStopTheBrowserFirst(t *testing.T) {
	t.Parallel()
	short := browserPythonProfile("short")
	short.IdleTimeout = 2 * time.Second
	svc, b := setupMulti(t, browserPythonProfile("browser-python"), short)
	for _, reclaim := range []string{"delete", "idle"} {
		profile := "browser-python"
		if reclaim == "idle" {
			profile = "short"
		}
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: profile})
		require.NoError(t, err)
		_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
		require.NoError(t, err)
		sess := sessionOf(t, b, sb.ID)
		stops, removed := len(b.runtime.Stopped()), len(b.runtime.Removed())
		if reclaim == "delete" {
			require.NoError(t, svc.Delete(b.ctx, "alice", sb.ID))
		} else {
			b.clock.Advance(3 * time.Second)
			rep, err := b.gc.Run(b.ctx, []string{core.GCIdleSession})
			require.NoError(t, err)
			require.Equal(t, 1, rep.TotalCleaned)
		}
		require.Equal(t, []fake.Stop{{ContainerID: sess.Containers[1].ContainerID, Grace: 10 * time.Second}}, b.runtime.Stopped()[stops:], reclaim)
		require.Equal(t, []string{sess.Containers[1].ContainerID, sess.Containers[0].ContainerID}, b.runtime.Removed()[removed:], reclaim)
		require.Empty(t, listSession(t, b, sess.ID), reclaim)
	}
}

// TestMultiContainer_ReadinessIsParallel: every runtime's /health is
// polled at once; each here answers only once the other was asked, which
// a wait one after the other never sees.
func TestMultiContainer_ReadinessIsParallel(t *testing.T) {
	t.Parallel()
	_, b := setupMulti(t, browserPythonProfile("browser-python"))
	var mu sync.Mutex
	seen := map[string]bool{}
	both := make(chan struct{})
	barrier := func(kind string) error {
		mu.Lock()
		if !seen[kind] {
			seen[kind] = true
			if len(seen) == 2 {
				close(both)
			}
		}
		mu.Unlock()
		select {
		case <-both:
			return nil
		case <-time.After(3 * time.Second):
			return errors.New("the other runtime was never probed")
		}
	}
	b.browser.health = func(string) error { return barrier("browser") }
	// Ship's client is replaced for /health and /meta by one that waits
	// for the browser's probe.
	shipMeta := &barrierShip{Ship: b.ship, health: func() error { return barrier("ship") }}
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: b.store, Runtime: b.runtime, Ship: b.ship, Clock: b.clock, IDs: core.RandomIDs{},
		Profiles: []core.Profile{browserPythonProfile("browser-python")}, InstanceID: "bay-a", ReadinessTimeout: 5 * time.Second,
		RuntimeClients: map[string]core.RuntimeMeta{core.RuntimeTypeBrowser: b.browser, core.RuntimeTypeShip: shipMeta},
	})
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
	require.NoError(t, err)
	began := time.Now()
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
	require.NoError(t, err)
	require.Less(t, time.Since(began), 3*time.Second)
}

// barrierShip is the fake Ship with its /health replaced.
type barrierShip struct {
	*fake.Ship
	health func() error
}

func (s *barrierShip) Health(ctx context.Context, endpoint string) error { return s.health() }

func TestMultiContainer_OneFailingRemovesAll(t *testing.T) {
	t.Parallel()
	t.Run("RuntimeReportsFailed", func(t *testing.T) {
		t.Parallel()
		svc, b := setupMulti(t, browserPythonProfile("browser-python"))
		b.browser.health = func(string) error { return &core.RuntimeFailedError{Message: "No usable sandbox!"} }
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
		require.NoError(t, err)
		began := time.Now()
		_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
		requireCode(t, core.CodeInternal, err)
		require.Contains(t, err.Error(), "Runtime browser failed to start: No usable sandbox!")
		require.Less(t, time.Since(began), 4*time.Second, "a failed runtime ends the wait at once")
		require.Len(t, b.runtime.Removed(), 2)
		sess := sessionOf(t, b, sb.ID)
		require.Equal(t, core.SessionFailed, sess.ObservedState)
		require.Empty(t, sess.Containers)
		require.Empty(t, sess.ContainerID)
		require.Empty(t, listSession(t, b, sess.ID))

		// The next call starts both anew.
		b.browser.health = nil
		_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
		require.NoError(t, err)
		require.Len(t, listSession(t, b, sessionOf(t, b, sb.ID).ID), 2)
	})
	t.Run("NeverReady", func(t *testing.T) {
		t.Parallel()
		svc, b := setupMulti(t, browserPythonProfile("browser-python"))
		b.browser.health = func(string) error { return io.ErrUnexpectedEOF }
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
		require.NoError(t, err)
		_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
		requireCode(t, core.CodeSessionNotReady, err)
		require.Len(t, b.runtime.Removed(), 2)
	})
	for _, op := range []fake.Op{fake.OpCreateContainer, fake.OpStartContainer} {
		t.Run("Second"+string(op)+"Fails", func(t *testing.T) {
			t.Parallel()
			svc, b := setupMulti(t, browserPythonProfile("browser-python"))
			sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
			require.NoError(t, err)
			b.runtime.FailNext(op, nil) // the owner's goes through
			b.runtime.FailNext(op, core.Errorf(core.CodeInternal, "boom"))
			_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
			requireCode(t, core.CodeInternal, err)
			require.Contains(t, err.Error(), "boom")
			sess := sessionOf(t, b, sb.ID)
			require.Equal(t, core.SessionFailed, sess.ObservedState)
			require.Empty(t, listSession(t, b, sess.ID), "the owner is removed too")
		})
	}
	t.Run("BrowserWithoutBearer", func(t *testing.T) {
		t.Parallel()
		svc, b := setupMulti(t, browserPythonProfile("browser-python"))
		b.browser.rt = fake.NewRuntime(fake.RuntimeOptions{}) // knows no token: every /meta is refused
		sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
		require.NoError(t, err)
		_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
		requireCode(t, core.CodeInternal, err)
		require.Len(t, b.runtime.Removed(), 2)
	})
}

// TestMultiContainer_DeadNonOwnerRebuildsTheSession: a browser container
// gone under a running session: the next call that cannot reach it
// removes every container and starts the session anew.
func TestMultiContainer_DeadNonOwnerRebuildsTheSession(t *testing.T) {
	t.Parallel()
	svc, b := setupMulti(t, browserPythonProfile("browser-python"))
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
	require.NoError(t, err)
	old := sessionOf(t, b, sb.ID)
	browser := old.Containers[1]
	b.runtime.Exit(browser.ContainerID)
	b.browser.setDown(browser.Endpoint, true)

	// The call's request cannot reach the dead container (its /meta is
	// cached from the start).
	var got core.Endpoint
	require.NoError(t, svc.Call(b.ctx, "alice", sb.ID, capBrowser, 0, func(ctx context.Context, ep core.Endpoint) error {
		if ep.URL == browser.Endpoint {
			return core.Wrap(&core.ErrUnreachable{Err: io.ErrUnexpectedEOF}, core.CodeShipError, "connection refused")
		}
		got = ep
		return nil
	}))
	cur := sessionOf(t, b, sb.ID)
	require.Equal(t, old.ID, cur.ID, "the session is reset, not replaced")
	require.NotEqual(t, browser.ContainerID, cur.Containers[1].ContainerID)
	require.NotEqual(t, old.Containers[0].ContainerID, cur.Containers[0].ContainerID, "the owner is rebuilt too")
	require.Equal(t, cur.Containers[1].Endpoint, got.URL)
	require.ElementsMatch(t, []string{browser.ContainerID, old.Containers[0].ContainerID}, b.runtime.Removed())
	require.Equal(t, browser.ContainerID, b.runtime.Removed()[0], "the owner last")
	st, err := b.store.Sandboxes().Get(b.ctx, sb.ID)
	require.NoError(t, err)
	require.Equal(t, core.StopReasonError, st.StopReason)
	require.Len(t, listSession(t, b, cur.ID), 2)
}

// TestMultiContainer_ProfileChangedUnderARunningSession: a capability the
// running session has no container for is refused until a stop applies
// the current profile.
func TestMultiContainer_ProfileChangedUnderARunningSession(t *testing.T) {
	t.Parallel()
	before := browserPythonProfile("p")
	before.Containers = before.Containers[:1]
	before.Capabilities = before.Containers[0].Capabilities
	_, b := setupMulti(t, before)
	old := multiInstance(b.store, b.runtime, b.ship, b.browser, b.clock, "bay-a", before)
	sb, err := old.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "p"})
	require.NoError(t, err)
	_, err = old.Python(b.ctx, "alice", sb.ID, "1", 30)
	require.NoError(t, err)

	// The operator adds a browser to the profile and restarts Bay.
	svc := multiInstance(b.store, b.runtime, b.ship, b.browser, b.clock, "bay-a", browserPythonProfile("p"))
	err = svc.Call(b.ctx, "alice", sb.ID, capBrowser, 0, func(context.Context, core.Endpoint) error { return nil })
	requireCode(t, core.CodeCapabilityNotSupported, err)
	require.Contains(t, core.AsError(err).Message, "stop the sandbox to apply the current profile")
	require.Equal(t, capBrowser, core.AsError(err).Details["capability"])
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
	require.NoError(t, err, "what the running session has still works")

	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID))
	require.NoError(t, svc.Call(b.ctx, "alice", sb.ID, capBrowser, 0, func(context.Context, core.Endpoint) error { return nil }))
	require.Len(t, sessionOf(t, b, sb.ID).Containers, 2)
}

func TestMultiContainer_UnregisteredRuntimeType(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	clock := fake.NewClock(time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC))
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock})
	ship := fake.NewShip()
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: core.RandomIDs{},
		Profiles: []core.Profile{browserPythonProfile("browser-python")}, InstanceID: "bay-a", ReadinessTimeout: 5 * time.Second,
	})
	ctx := context.Background()
	sb, err := svc.Create(ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
	require.NoError(t, err)
	err = svc.Call(ctx, "alice", sb.ID, capBrowser, 0, func(context.Context, core.Endpoint) error { return nil })
	requireCode(t, core.CodeInternal, err, "no client serves the browser type yet")
	require.True(t, strings.Contains(err.Error(), "Unsupported runtime type: browser"), err.Error())
	// Python still starts the session: the browser is probed with Ship's
	// client (the same /health and /meta routes).
	_, err = svc.Python(ctx, "alice", sb.ID, "1", 30)
	require.NoError(t, err)
}

// TestMultiContainer_Reconcile: a crash while starting a session of two
// containers leaves both labelled; the restarted instance removes both,
// the owner last, and fails the session.
func TestMultiContainer_Reconcile(t *testing.T) {
	t.Parallel()
	svc, b := setupMulti(t, browserPythonProfile("browser-python"))
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{Profile: "browser-python"})
	require.NoError(t, err)
	b.browser.health = func(string) error { return io.ErrUnexpectedEOF } // the start hangs in readiness
	done := make(chan error, 1)
	go func() {
		_, err := svc.Python(b.ctx, "alice", sb.ID, "1", 30)
		done <- err
	}()
	require.Eventually(t, func() bool { return len(b.runtime.Started()) == 2 }, 5*time.Second, 10*time.Millisecond)

	// A new process of the same instance, started after the claim.
	b.clock.Advance(time.Second)
	restarted := multiInstance(b.store, b.runtime, b.ship, b.browser, b.clock, "bay-a", browserPythonProfile("browser-python"))
	gc := core.NewGC(core.GCOptions{Store: b.store, Runtime: b.runtime, Clock: b.clock, Sandboxes: restarted, InstanceID: "bay-a",
		Tasks: map[string]bool{core.GCOrphanContainer: true}})
	sess := sessionOf(t, b, sb.ID)
	fixed, err := gc.Reconcile(b.ctx, true)
	require.NoError(t, err)
	require.Equal(t, 1, fixed)
	require.Empty(t, listSession(t, b, sess.ID))
	require.Equal(t, []string{sess.Containers[1].ContainerID, sess.Containers[0].ContainerID}, b.runtime.Removed())
	cur, err := b.store.Sessions().Get(b.ctx, sess.ID)
	require.NoError(t, err)
	require.Equal(t, core.SessionFailed, cur.ObservedState)
	require.Empty(t, cur.Containers)
	requireCode(t, core.CodeSessionNotReady, <-done, "the old start gives up")
}

// TestMultiContainer_OrphanGC removes every container of a session whose
// row is gone, the joined ones before their owner.
func TestMultiContainer_OrphanGC(t *testing.T) {
	t.Parallel()
	_, b := setupMulti(t, browserPythonProfile("browser-python"))
	p := browserPythonProfile("browser-python")
	spec := core.ContainerSpec{SessionID: "sess-0000000000aa", SandboxID: "sandbox-0000000000aa", LockerID: "locker-0000000000aa",
		Owner: "alice", InstanceID: "bay-a", Profile: &p, RuntimeToken: "t", Container: &p.Containers[0]}
	owner, err := b.runtime.CreateContainer(b.ctx, spec)
	require.NoError(t, err)
	spec.Container, spec.NetworkOwner = &p.Containers[1], owner
	joined, err := b.runtime.CreateContainer(b.ctx, spec)
	require.NoError(t, err)
	rep, err := b.gc.Run(b.ctx, []string{core.GCOrphanContainer})
	require.NoError(t, err)
	require.Equal(t, 2, rep.TotalCleaned)
	require.Equal(t, []string{joined, owner}, b.runtime.Removed())
}

// TestMultiContainer_SessionWithoutContainerRows: a session a Bay before
// session_containers started (its one container on the session row only)
// keeps working and is torn down as before.
func TestMultiContainer_SessionWithoutContainerRows(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	sb, err := svc.Create(b.ctx, "alice", core.CreateSandboxInput{})
	require.NoError(t, err)
	_, err = svc.Python(b.ctx, "alice", sb.ID, "1", 30)
	require.NoError(t, err)
	row, err := b.store.Sandboxes().Get(b.ctx, sb.ID)
	require.NoError(t, err)
	sess, err := b.store.Sessions().Get(b.ctx, row.CurrentSessionID)
	require.NoError(t, err)
	require.Len(t, sess.Containers, 1, "a single-image profile records its one container")
	require.Equal(t, "ship", sess.Containers[0].Name)
	sess.Containers = nil
	require.NoError(t, b.store.Sessions().Save(b.ctx, sess))

	starts := b.runtime.Calls(fake.OpStartContainer)
	out, err := svc.Shell(b.ctx, "alice", sb.ID, core.ShellInput{Command: "echo hi", Timeout: 5})
	require.NoError(t, err)
	require.True(t, out.Success)
	require.Equal(t, starts, b.runtime.Calls(fake.OpStartContainer), "routed to the recorded container")
	require.NoError(t, svc.Stop(b.ctx, "alice", sb.ID))
	require.Equal(t, []string{sess.ContainerID}, b.runtime.Removed())
}

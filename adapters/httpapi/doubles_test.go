package httpapi

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/sqlite"
	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/core/fake"
)

// The handlers are tested over the real core services on a SQLite store in
// a temporary directory, with core/fake's runtime and Ship. The doubles in
// this file wrap them only where a test injects what the real ones cannot
// produce on demand: an error or a panic from the service, a program that
// fails, a GC report with given numbers or a cycle in progress, and an
// upload that is counted instead of held in memory.

// services are the real core services a test server runs on.
type services struct {
	store     core.Store
	clock     *fake.Clock
	runtime   *fake.Runtime
	ship      *scriptedShip
	sandboxes *faultySandboxes
	execs     *core.ExecutionService
	lockers   *core.LockerService
	gc        *core.GC
	idem      *core.IdempotencyService
}

func testProfiles() []core.Profile {
	return []core.Profile{
		{ID: "python-default", Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
			CPUs: 1, Memory: "1g", MemoryBytes: 1 << 30,
			Capabilities: []string{"filesystem", "shell", "python"}, IdleTimeout: 30 * time.Minute},
		{ID: "python-only", Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
			CPUs: 0.5, Memory: "512m", MemoryBytes: 512 << 20,
			Capabilities: []string{"python"}, IdleTimeout: time.Minute, IdlePause: 20 * time.Second,
			Network: core.NetworkPolicy{Mode: core.NetworkAllowlist, Allow: []core.NetworkRule{{Host: "internal.example", Port: 443}}}},
	}
}

func newServices(tb testing.TB) *services {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "bay.db"))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = store.Close() })
	require.NoError(tb, store.Migrate(ctx))
	clock := fake.NewClock(testNow)
	rt := fake.NewRuntime(fake.RuntimeOptions{Clock: clock})
	ship := &scriptedShip{Ship: fake.NewShip()}
	ids := &fake.IDs{}
	svc := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: ids, Profiles: testProfiles(),
		InstanceID: "bay-test", ReadinessTimeout: 5 * time.Second,
	})
	return &services{
		store: store, clock: clock, runtime: rt, ship: ship,
		sandboxes: &faultySandboxes{SandboxService: svc, fail: map[string]error{}, panicOn: map[string]bool{}},
		execs:     core.NewExecutionService(core.ExecutionOptions{Store: store, Ship: ship, Clock: clock, Sandboxes: svc, InstanceID: "bay-test"}),
		lockers:   core.NewLockerService(store, rt, clock, ids, 1024, 0),
		gc: core.NewGC(core.GCOptions{
			Store: store, Runtime: rt, Clock: clock, Sandboxes: svc, InstanceID: "bay-test",
			Tasks: map[string]bool{core.GCIdleSession: true, core.GCExpiredSandbox: true, core.GCOrphanLocker: true},
		}),
		idem: core.NewIdempotencyService(store, clock, time.Hour, true),
	}
}

// faultySandboxes is the sandbox service, except that Get of a sandbox
// returns the error or panics as the test says. It counts CheckCapability,
// the one read an error answer may make.
type faultySandboxes struct {
	*core.SandboxService
	mu      sync.Mutex
	fail    map[string]error
	panicOn map[string]bool
	checks  atomic.Int64
}

func (f *faultySandboxes) CheckCapability(ctx context.Context, owner, id, capability string) error {
	f.checks.Add(1)
	return f.SandboxService.CheckCapability(ctx, owner, id, capability)
}

func (f *faultySandboxes) Get(ctx context.Context, owner, id string) (*core.SandboxInfo, error) {
	f.mu.Lock()
	err, boom := f.fail[id], f.panicOn[id]
	f.mu.Unlock()
	if boom {
		panic("fake sandbox exploded: secret internals")
	}
	if err != nil {
		return nil, err
	}
	return f.SandboxService.Get(ctx, owner, id)
}

// scriptedShip is core/fake's Ship with scripted programs: Python evaluates
// print(<text>) only and fails with a NameError otherwise, the shell knows
// pwd only and answers 127 otherwise. Uploads are counted, not stored, as a
// real upload streams through.
type scriptedShip struct {
	*fake.Ship
	mu      sync.Mutex
	uploads []uploadCall
}

type uploadCall struct {
	path       string
	bytes      int64
	readerType string
	heapInuse  uint64
}

func (s *scriptedShip) Python(ctx context.Context, ep core.Endpoint, code string, timeout int, _ string) (*core.PythonResult, error) {
	out, ok := strings.CutPrefix(code, "print(")
	if !ok {
		msg := "NameError: " + code
		return &core.PythonResult{Success: false, Error: &msg, Data: map[string]any{}}, nil
	}
	out = strings.TrimSuffix(out, ")")
	n := int64(1)
	return &core.PythonResult{Success: true, Output: out, ExecutionCount: &n,
		Data: map[string]any{"text": out, "images": []any{}}}, nil
}

func (s *scriptedShip) Shell(ctx context.Context, ep core.Endpoint, in core.ShellInput) (*core.ShellResult, error) {
	if in.Command == "pwd" {
		dir := core.MountPath
		if in.Cwd != nil && *in.Cwd != "." {
			dir += "/" + *in.Cwd
		}
		var zero int64
		return &core.ShellResult{Success: true, Output: dir, ExitCode: &zero}, nil
	}
	code := int64(127)
	msg := "bash: " + in.Command + ": command not found"
	return &core.ShellResult{Success: false, Error: &msg, ExitCode: &code}, nil
}

func (s *scriptedShip) Upload(ctx context.Context, ep core.Endpoint, path string, body io.Reader) (int64, error) {
	call := uploadCall{path: path, readerType: fmt.Sprintf("%T", body)}
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		call.bytes += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return call.bytes, core.Wrap(err, core.CodeShipError, "Ship request error: upload")
		}
	}
	call.heapInuse = heapInuse()
	s.mu.Lock()
	s.uploads = append(s.uploads, call)
	s.mu.Unlock()
	return call.bytes, nil
}

// scriptedGC reports a fixed cycle (one cleaned, one task error, 245 ms)
// and can be marked running. The GC's own rules are core's to test.
type scriptedGC struct {
	mu      sync.Mutex
	running bool
	calls   [][]string
}

func (g *scriptedGC) Run(ctx context.Context, tasks []string) (*core.GCReport, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running {
		return nil, core.Errorf(core.CodeGCRunning, "GC is already running")
	}
	g.calls = append(g.calls, tasks)
	all := []core.GCTaskResult{
		{TaskName: core.GCIdleSession, CleanedCount: 1},
		{TaskName: core.GCExpiredSandbox},
		{TaskName: core.GCOrphanLocker, Errors: []string{"volume busy"}},
	}
	rep := &core.GCReport{Duration: 245 * time.Millisecond}
	for _, r := range all {
		if tasks != nil && !slices.Contains(tasks, r.TaskName) {
			continue
		}
		rep.Results = append(rep.Results, r)
		rep.TotalCleaned += r.CleanedCount
		rep.TotalErrors += len(r.Errors)
	}
	return rep, nil
}

func (g *scriptedGC) Status() core.GCStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return core.GCStatus{Enabled: true, IsRunning: g.running, InstanceID: "bay-test", IntervalSeconds: 300,
		Tasks: map[string]bool{core.GCIdleSession: true, core.GCExpiredSandbox: true, core.GCOrphanLocker: true, core.GCOrphanContainer: false}}
}

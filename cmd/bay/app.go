package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bayhq/bay/adapters/browserclient"
	"github.com/bayhq/bay/adapters/docker"
	"github.com/bayhq/bay/adapters/httpapi"
	"github.com/bayhq/bay/adapters/kubernetes"
	"github.com/bayhq/bay/adapters/mcp"
	"github.com/bayhq/bay/adapters/metrics"
	"github.com/bayhq/bay/adapters/shipclient"
	"github.com/bayhq/bay/core"
	browserimage "github.com/bayhq/bay/images/browser"
)

// app is Bay wired together: every port bound to its adapter.
type app struct {
	store     core.Store
	runtime   runtimeAdapter
	ship      *shipclient.Client
	sandboxes *core.SandboxService
	execs     *core.ExecutionService
	lockers   *core.LockerService
	gc        *core.GC
	idem      *core.IdempotencyService
	metrics   *metrics.Registry
	api       *httpapi.Server // CloseTerminals on shutdown
	handler   http.Handler
	log       *slog.Logger
	// started is set once reconcile has made its first pass: until then
	// GET /ready reports the startup check pending.
	started *atomic.Bool
	// background is the work background started, which close waits for.
	background sync.WaitGroup
}

// runtimeAdapter is what the app needs of the runtime adapter that
// driver.type picks, beyond core.Runtime: readiness, and release.
type runtimeAdapter interface {
	core.Runtime
	Ping(ctx context.Context) error
	Close() error
}

// volumeRestorer is a runtime whose size-limited lockers must be mounted
// again after a reboot (Docker's).
type volumeRestorer interface {
	RestoreVolumes(ctx context.Context) (int, error)
}

// imageChecker is a runtime that can tell whether an image is present
// where its containers run.
type imageChecker interface {
	ImagePresent(ctx context.Context, image string) (bool, error)
}

// newApp wires the adapters to the ports. It opens the store (without
// migrating) and the runtime's client (without contacting Docker or the
// cluster).
func newApp(ctx context.Context, cfg Config, environ []string, logger *slog.Logger) (*app, error) {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	instanceID := cfg.InstanceID(environ)
	rt, err := openRuntime(cfg, instanceID, logger)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	reg := metrics.New()
	clock := core.SystemClock{}
	startedAt := clock.Now()
	ids := core.RandomIDs{}
	ship := shipclient.New()
	sandboxes := core.NewSandboxService(core.SandboxServiceOptions{
		Store: store, Runtime: rt, Ship: ship, Clock: clock, IDs: ids, Profiles: cfg.Profiles,
		// The client of every runtime type but Ship's, by type: a browser
		// container's checks and calls go through its entry here.
		RuntimeClients:      map[string]core.RuntimeMeta{core.RuntimeTypeBrowser: browserclient.New()},
		DefaultLockerSizeMB: cfg.Locker.DefaultSizeLimitMB, InstanceID: instanceID, Quotas: cfg.Quotas,
		EnforceLockerSizes: core.SizeEnforcement(cfg.Locker.EnforceSizeLimits),
		Logger:             logger, Metrics: reg, PoolMetrics: reg,
	})
	execs := core.NewExecutionService(core.ExecutionOptions{
		Store: store, Ship: ship, Clock: clock, Sandboxes: sandboxes,
		Limits: core.HistoryLimits{
			MaxCodeBytes: cfg.History.MaxCodeBytes, MaxOutputBytes: cfg.History.MaxOutputBytes,
			MaxErrorBytes: cfg.History.MaxErrorBytes, MaxImageBytes: cfg.History.MaxImageBytes,
		},
		MaxLongTimeout: cfg.Exec.MaxLongTimeout, MaxEventBytes: cfg.Exec.MaxEventBytes, InstanceID: instanceID, StartedAt: startedAt,
		Metrics: reg, Logger: logger.With("component", "executions"),
	})
	idem := core.NewIdempotencyService(store, clock, time.Duration(cfg.Idempotency.TTLHours)*time.Hour, cfg.Idempotency.Enabled)
	gc := core.NewGC(core.GCOptions{
		Store: store, Runtime: rt, Clock: clock, Sandboxes: sandboxes, InstanceID: instanceID,
		Enabled: cfg.GC.Enabled, RunOnStartup: cfg.GC.RunOnStartup,
		Interval: time.Duration(cfg.GC.IntervalSeconds) * time.Second,
		Tasks: map[string]bool{
			core.GCIdleSession:      cfg.GC.IdleSession,
			core.GCExpiredSandbox:   cfg.GC.ExpiredSandbox,
			core.GCOrphanLocker:     cfg.GC.OrphanLocker,
			core.GCOrphanContainer:  cfg.GC.OrphanContainer,
			core.GCExecutionHistory: cfg.GC.ExecutionHistory,
		},
		History: core.HistoryRetention{
			MaxAge:        time.Duration(cfg.History.RetentionHours) * time.Hour,
			MaxPerSandbox: cfg.History.MaxPerSandbox,
		},
		StartedAt:   startedAt,
		Logger:      logger.With("component", "gc"),
		Observe:     reg.GCCycle,
		Idempotency: idem,
	})
	lockers := core.NewLockerService(store, rt, clock, ids, cfg.Locker.DefaultSizeLimitMB, cfg.Server.MaxBodyBytes).WithQuotas(cfg.Quotas).
		WithEnforcedSizes(core.SizeEnforcement(cfg.Locker.EnforceSizeLimits))
	reg.CollectSandboxes(sandboxes.CountByStatus)
	reg.CollectPaused(sandboxes.CountPaused)
	reg.CollectPool(sandboxes.PoolSizes)
	started := new(atomic.Bool)
	startup := func(context.Context) error {
		if !started.Load() {
			return httpapi.Pending("reconcile")
		}
		return nil
	}

	api := httpapi.New(httpapi.Options{
		Sandboxes: sandboxes, Executions: execs, Lockers: lockers, GC: gc, Idempotency: idem,
		StreamHeartbeat: time.Duration(cfg.Exec.StreamHeartbeatSeconds) * time.Second,
		APIKey:          cfg.Security.APIKey, Keys: cfg.Security.APIKeys, AllowAnonymous: cfg.Security.AllowAnonymous,
		MaxBodyBytes: cfg.Server.MaxBodyBytes, MaxUploadBytes: cfg.Server.MaxUploadBytes,
		IdempotencyEnabled: cfg.Idempotency.Enabled,
		Logger:             logger.With("component", "http"),
		Metrics:            reg,
		Ready: map[string]func(context.Context) error{
			"database": store.Ping, "runtime": rt.Ping, httpapi.StartupCheck: startup,
		},
		Terminal: httpapi.TerminalOptions{
			MaxPerSandbox: cfg.Terminal.MaxPerSandbox, AllowedOrigins: cfg.Terminal.AllowedOrigins,
			IdleClose: time.Duration(cfg.Terminal.IdleCloseSeconds) * time.Second,
		},
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg)
	mux.Handle("/", api)
	if cfg.MCP.Enabled {
		// MCP (agent-reach.md §4): the API's authentication and envelope
		// first, then the SDK's stateless handler, made on the first
		// request: its tools' schemas cost start-up time and memory that a
		// Bay no agent talks to should not pay.
		server := sync.OnceValue(func() http.Handler {
			return mcp.New(mcp.Options{
				Sandboxes: sandboxes, Executions: execs, Lockers: lockers, Authenticate: api.Authenticate,
				Version: version, MaxTextChars: cfg.MCP.MaxTextChars, DefaultTTL: cfg.MCP.DefaultTTL,
				MaxWriteBytes: cfg.MCP.MaxWriteBytes, MaxResourceBytes: cfg.MCP.MaxResourceBytes,
				MaxBodyBytes: cfg.Server.MaxBodyBytes, DisableLocalhostProtection: cfg.MCP.DisableLocalhostProtection,
				Logger: logger.With("component", "mcp"), Metrics: reg,
			}).Handler()
		})
		mux.Handle("/mcp", api.Guard("POST /mcp", []string{http.MethodPost},
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { server().ServeHTTP(w, r) })))
	}

	return &app{
		store: store, runtime: rt, ship: ship, sandboxes: sandboxes, execs: execs, lockers: lockers, gc: gc,
		idem: idem, metrics: reg, api: api, handler: mux, log: logger, started: started,
	}, nil
}

// openRuntime opens the runtime adapter driver.type names. Neither
// contacts anything: Bay starts whether Docker or the cluster answers.
func openRuntime(cfg Config, instanceID string, logger *slog.Logger) (runtimeAdapter, error) {
	var blocked []netip.Prefix
	for _, h := range cfg.Security.BlockedHosts {
		p, err := core.ParseBlockedHost(h) // validated with the configuration
		if err == nil {
			blocked = append(blocked, p)
		}
	}
	if cfg.Driver.Type == DriverK8s {
		k := cfg.Driver.K8s
		return kubernetes.Open(kubernetes.Options{
			Namespace:        k.Namespace,
			Kubeconfig:       k.Kubeconfig,
			StorageClass:     k.StorageClass,
			ImagePullPolicy:  k.ImagePullPolicy,
			PodReadyTimeout:  time.Duration(k.PodReadyTimeoutSeconds) * time.Second,
			RuntimeClassName: k.RuntimeClassName,
			NodeSelector:     k.NodeSelector,
			BayPodLabels:     k.BayPodLabels,
			InstanceID:       instanceID,
			HelperImage:      cfg.helperImage(),
			BlockedHosts:     blocked,
			BayAPIPort:       cfg.Server.Port,
			DefaultVolumeMB:  cfg.Locker.DefaultSizeLimitMB,
			Logger:           logger,
		})
	}
	return docker.Open(docker.Options{
		Host:         cfg.Driver.Docker.Socket,
		ConnectMode:  docker.ConnectMode(cfg.Driver.Docker.ConnectMode),
		Network:      cfg.Driver.Docker.Network,
		HostAddress:  cfg.Driver.Docker.HostAddress,
		PublishPorts: cfg.Driver.Docker.PublishPorts,
		HostPort:     cfg.Driver.Docker.HostPort,
		InstanceID:   instanceID,
		HelperImage:  cfg.helperImage(),
		GuardImage:   cfg.guardImage(),
		BlockedHosts: blocked,
		BayAPIPort:   cfg.Server.Port,
		Seccomp:      browserSeccomp(cfg.Driver.Docker.SeccompProfile, logger),
		Logger:       logger,
	})
}

// browserSeccomp returns the seccomp profile of browser containers
// (browser.md §6): the file at path, or Bay's built-in profile when path is
// empty. A file that cannot be read leaves them Docker's default profile,
// with a warning: their Chromium then runs without its sandbox
// (chromium_sandbox auto) or refuses to start (require).
func browserSeccomp(path string, logger *slog.Logger) string {
	if path == "" {
		return browserimage.Seccomp
	}
	raw, err := os.ReadFile(path) // #nosec G304 -- the operator names the file (driver.docker.seccomp_profile)
	if err != nil {
		logger.Warn("seccomp profile of browser containers unreadable; they get Docker's default profile", "path", path, "err", err)
		return ""
	}
	return string(raw)
}

// prepare does what must be done before the API answers: it migrates the
// database, marks the executions this instance left running lost, and
// settles the session starts it left half done.
func (a *app) prepare(ctx context.Context) error {
	if err := applyMigrations(ctx, a.store, a.log); err != nil {
		return err
	}
	// Rows this instance left running when it last stopped can never
	// finish: say so before anyone reads them.
	if n, err := a.execs.RecoverLost(ctx); err != nil {
		a.log.WarnContext(ctx, "mark executions of the previous run lost", "err", err)
	} else if n > 0 {
		a.log.InfoContext(ctx, "executions of the previous run marked lost", "count", n)
	}
	// A start this instance claimed before it stopped is repaired by
	// removing the session's containers by label, while a call on the
	// sandbox takes such a claim over and starts the same containers
	// again: the two must not overlap, so the starts are settled before
	// the API answers. Usually there are none, and this is one query;
	// the containers of sessions whose rows are gone (gc.orphan_container)
	// wait for the pass beside serving.
	rctx, cancel := context.WithTimeout(ctx, settleStartsTimeout)
	defer cancel()
	if fixed, err := a.gc.Reconcile(rctx, false); err != nil && ctx.Err() == nil {
		// Docker may be down: the pass beside serving tries again.
		a.log.WarnContext(ctx, "settle the starts of the previous run", "err", err)
	} else if fixed > 0 {
		a.log.InfoContext(ctx, "starts of the previous run settled", "fixed", fixed)
	}
	return ctx.Err()
}

// settleStartsTimeout bounds what prepare waits for Docker when a crash
// left starts to settle: a daemon that does not answer must not keep the
// API closed.
const settleStartsTimeout = 10 * time.Second

// startBackground does, beside serving and until ctx ends, what start-up
// leaves to after the API opens: reconcile (GET /ready waits for its first
// pass), the check for missing images and the start-up GC cycle, then the
// GC loop (which purges expired idempotency keys beside it). It mounts
// size-limited lockers again too. beforeReconcile, if set, runs first (a
// test's hook). close waits for all of it.
func (a *app) startBackground(ctx context.Context, cfg Config, beforeReconcile func(context.Context)) {
	a.background.Go(func() {
		if beforeReconcile != nil {
			beforeReconcile(ctx)
		}
		fixed, err := a.gc.Reconcile(ctx, cfg.GC.OrphanContainer)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Docker may be down: Bay serves anyway, the next cycle retries.
			a.log.WarnContext(ctx, "reconcile after restart", "err", err)
		case fixed > 0:
			a.log.InfoContext(ctx, "reconciled leftovers of a previous run", "fixed", fixed)
		}
		a.started.Store(true)
		a.warnMissingImages(ctx, cfg)
		if cfg.GC.Enabled && cfg.GC.RunOnStartup && ctx.Err() == nil {
			a.gc.RunCycle(ctx)
		}
		if ctx.Err() == nil {
			releaseStartupGarbage()
		}
		a.gc.Loop(ctx)
	})
	// Size-limited lockers are file systems mounted on the Docker host; a
	// reboot unmounts them, and their sandboxes refuse to start until they
	// are mounted again. Mounting takes a helper container per locker
	// (about 0.25 s each), so it runs beside serving, not before it. On
	// Kubernetes the storage keeps claims mounted: nothing to do.
	if rv, ok := a.runtime.(volumeRestorer); ok {
		a.background.Go(func() {
			if n, err := rv.RestoreVolumes(ctx); err != nil && ctx.Err() == nil {
				a.log.WarnContext(ctx, "mount size-limited lockers", "err", err)
			} else if n > 0 {
				a.log.InfoContext(ctx, "size-limited lockers mounted", "count", n)
			}
		})
	}
	// Profiles with a warm_pool: their runtimes started ahead of any
	// sandbox, refilled after each claim and checked every 10 s; entries
	// a crash or a configuration change left are dropped first.
	a.background.Go(func() { a.sandboxes.PoolLoop(ctx, 10*time.Second) })
	// Profiles with idle_pause: their idle runtimes are paused until the
	// next call (core/pause.go).
	if every := core.PauseInterval(cfg.Profiles); every > 0 {
		a.background.Go(func() { a.sandboxes.PauseLoop(ctx, every) })
	}
}

// releaseStartupGarbage hands the memory start-up used and no longer
// needs back to the operating system, once: the configuration and the
// spec's body rules decoded, the migrations parsed (goose keeps a 4 MB scan
// buffer per file in a sync.Pool, which takes two collections to empty),
// the first Docker answers. Left to the runtime, a Bay that is idle after
// start-up would keep it resident for minutes; the two collections of a
// heap this small take a millisecond.
func releaseStartupGarbage() {
	runtime.GC()
	debug.FreeOSMemory()
}

// close waits for the background work (its context must have ended) and
// releases the clients and the store.
func (a *app) close() {
	a.background.Wait()
	a.ship.Close()
	_ = a.runtime.Close()
	if err := a.store.Close(); err != nil {
		a.log.Warn("close store", "err", err)
	}
}

// warnMissingImages names, once after start-up, every configured image the
// Docker host (or every node of the cluster) lacks and how to provide it:
// Bay does not pull images, and a sandbox of such a profile fails on its
// first call with the same advice.
func (a *app) warnMissingImages(ctx context.Context, cfg Config) {
	ic, ok := a.runtime.(imageChecker)
	if !ok {
		return
	}
	hint := docker.BuildHint
	if cfg.Driver.Type == DriverK8s {
		hint = kubernetes.ImageHint
	}
	for _, img := range cfg.neededImages(true) {
		ok, err := ic.ImagePresent(ctx, img)
		if err != nil {
			return // the runtime is down (or Bay stops): it says so on use
		}
		if !ok {
			a.log.WarnContext(ctx, "image missing; sandboxes that need it fail until it is there",
				"image", img, "fix", hint(img))
		}
	}
}

package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/bayhq/bay/browser/wire"
)

// Timeouts of Chromium's life.
const (
	// launchTimeout bounds one start of Chromium up to its first tab.
	launchTimeout = 45 * time.Second
	// stopTimeout bounds the graceful close (browser.md §5.1: exit 0
	// within 5 s of SIGTERM; measured 0.11-0.13 s).
	stopTimeout = 4 * time.Second
	// maxBackoff caps the delay between relaunches after crashes.
	maxBackoff = 30 * time.Second
	// stableAfter resets the backoff: an instance that ran this long was
	// not part of a crash loop.
	stableAfter = 30 * time.Second
)

// Engine runs Chromium and the commands (browser.md §5.1).
type Engine struct {
	cfg Config
	log *slog.Logger

	// slot admits one command at a time. Goroutines blocked on a channel
	// send are served in FIFO order, so commands run in arrival order.
	slot chan struct{}

	mu sync.Mutex
	// state is one of wire's Status* values; failure explains
	// StatusFailed.
	state   string
	failure string
	// ready is closed while the state is healthy.
	ready chan struct{}
	inst  *instance
	// sandbox says whether Chromium's own sandbox is on; profileKind is
	// wire.ProfilePersistent or wire.ProfileEphemeral; engineVersion is
	// Chromium's version. They are set before the state first becomes
	// healthy and do not change afterwards.
	sandbox       bool
	profileKind   string
	profileDir    string
	engineVersion string
	lock          *profileLock
	chromium      string
	// crashes counts relaunches since the last stable instance.
	crashes int
	// cancelRunning cancels the command in flight (Stop).
	cancelRunning context.CancelFunc
	// refSeq numbers refs across tabs and documents, so that a ref is never
	// reused and an old one is recognized as stale.
	refSeq int
	// viewport is the current viewport, applied to every tab.
	viewport viewport
	// rec collects what happens during the running command; backlog what
	// happens between commands (a late dialog, a download that finished).
	rec     *recorder
	backlog recorder
	// downloads counts finished downloads; downloadSeen is closed and
	// replaced whenever one finishes.
	downloads    int
	downloadSeen chan struct{}
	pending      map[string]pendingDownload

	stopOnce sync.Once
	stopped  chan struct{}
	bg       sync.WaitGroup
}

type viewport struct {
	width, height int
	scale         float64
}

// NewEngine returns an Engine for cfg; Start launches Chromium.
func NewEngine(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		cfg.Width, cfg.Height = 1280, 800
	}
	if cfg.Locale == "" {
		cfg.Locale = "en-US"
	}
	if cfg.Sandbox == "" {
		cfg.Sandbox = SandboxAuto
	}
	if cfg.TmpDir == "" {
		cfg.TmpDir = filepath.Join(os.TempDir(), "browser")
	}
	return &Engine{
		cfg:          cfg,
		log:          cfg.Logger,
		slot:         make(chan struct{}, 1),
		state:        wire.StatusStarting,
		ready:        make(chan struct{}),
		viewport:     viewport{width: cfg.Width, height: cfg.Height, scale: 1},
		downloadSeen: make(chan struct{}),
		stopped:      make(chan struct{}),
	}
}

// Start prepares the profile and launches Chromium in the background;
// Health reports the progress.
func (e *Engine) Start() {
	e.bg.Go(func() {
		if err := e.prepare(); err != nil {
			e.fail(err)
			return
		}
		if err := e.firstLaunch(); err != nil {
			e.fail(err)
		}
	})
}

// fail records that Chromium cannot start: /health answers 503 failed.
func (e *Engine) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == wire.StatusStopping {
		return
	}
	e.state, e.failure = wire.StatusFailed, err.Error()
	e.log.Error("browser cannot start", "err", err)
}

// prepare checks the workspace, takes the profile and decides on the
// sandbox (browser.md §5.1).
func (e *Engine) prepare() error {
	if err := checkWritable(e.cfg.Workspace); err != nil {
		return fmt.Errorf("workspace %s is not writable: %w", e.cfg.Workspace, err)
	}
	chromium, err := FindChromium(e.cfg.Chromium)
	if err != nil {
		return err
	}
	for _, d := range []string{"home", "cache", "home/.config", "home/.cache"} {
		if err := os.MkdirAll(filepath.Join(e.cfg.TmpDir, d), 0o700); err != nil {
			return fmt.Errorf("temporary directory: %w", err)
		}
	}
	kind, dir := wire.ProfileEphemeral, ""
	if e.cfg.PersistProfile {
		// .bay is shared with other runtimes (0755); the browser's part of
		// it holds logins (0700).
		base := filepath.Join(e.cfg.Workspace, ".bay", "browser")
		_ = os.Mkdir(filepath.Dir(base), 0o755) // #nosec G301 -- a shared dot-dir; what is private below it is 0700
		if err := os.MkdirAll(base, 0o700); err != nil {
			return fmt.Errorf("profile directory: %w", err)
		}
		lock, err := lockProfile(filepath.Join(base, "profile.lock"))
		switch {
		case err == nil:
			kind, dir = wire.ProfilePersistent, filepath.Join(base, "profile")
			e.lock = lock
			if err := os.MkdirAll(dir, 0o700); err != nil {
				lock.release()
				return fmt.Errorf("profile directory: %w", err)
			}
			removeSingletons(dir)
		case errors.Is(err, errLocked):
			e.log.Warn("the profile on the Locker is in use by another browser; using a temporary profile")
		default:
			return fmt.Errorf("profile lock: %w", err)
		}
	}
	if dir == "" {
		dir = filepath.Join(e.cfg.TmpDir, fmt.Sprintf("profile-%d", os.Getpid()))
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("profile directory: %w", err)
		}
	}
	sandbox := false
	switch e.cfg.Sandbox {
	case SandboxAuto, SandboxRequire:
		err := userNamespacesWork()
		if err == nil && os.Geteuid() == 0 {
			err = errors.New("running as root: Chromium refuses its sandbox then")
		}
		switch {
		case err == nil:
			sandbox = true
		case e.cfg.Sandbox == SandboxRequire:
			return fmt.Errorf("chromium_sandbox is require, but the sandbox cannot run: %w (the container needs a seccomp profile that allows user namespaces)", err)
		default:
			e.log.Warn("Chromium's sandbox is off: user namespaces are not available", "err", err)
		}
	}
	e.mu.Lock()
	e.chromium, e.profileKind, e.profileDir, e.sandbox = chromium, kind, dir, sandbox
	e.mu.Unlock()
	return nil
}

// firstLaunch starts Chromium for the first time. In auto mode a start
// that fails on the sandbox is retried without it.
func (e *Engine) firstLaunch() error {
	inst, err := e.launch()
	if err != nil && e.sandboxOn() && e.cfg.Sandbox == SandboxAuto {
		e.log.Warn("Chromium did not start with its sandbox; retrying without it", "err", err)
		e.mu.Lock()
		e.sandbox = false
		e.mu.Unlock()
		inst, err = e.launch()
	}
	if err != nil {
		return err
	}
	e.became(inst)
	return nil
}

func (e *Engine) sandboxOn() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sandbox
}

// became makes inst the running instance: /health answers 200.
func (e *Engine) became(inst *instance) {
	e.mu.Lock()
	if e.state == wire.StatusStopping {
		e.mu.Unlock()
		inst.kill()
		return
	}
	e.inst = inst
	e.state = wire.StatusHealthy
	close(e.ready)
	e.mu.Unlock()
	e.log.Info("browser ready", "engine_version", e.engineVersion, "chromium_sandbox", e.sandboxOn(),
		"profile", e.profileKind, "pid", inst.pid())
	e.bg.Go(func() { e.watch(inst) })
}

// watch waits for the instance to lose Chromium and relaunches it.
func (e *Engine) watch(inst *instance) {
	select {
	case <-inst.lost:
	case <-e.stopped:
		return
	}
	e.mu.Lock()
	if e.state == wire.StatusStopping || e.inst != inst {
		e.mu.Unlock()
		return
	}
	e.inst = nil
	e.state = wire.StatusRestarting
	e.ready = make(chan struct{})
	if time.Since(inst.started) > stableAfter {
		e.crashes = 0
	}
	e.crashes++
	e.mu.Unlock()
	e.log.Warn("Chromium exited unexpectedly; relaunching", "exit", inst.exitError())
	inst.kill()
	for {
		delay := backoff(e.crashesSoFar())
		select {
		case <-time.After(delay):
		case <-e.stopped:
			return
		}
		next, err := e.launch()
		if err == nil {
			e.became(next)
			return
		}
		e.log.Error("relaunching Chromium failed", "err", err)
		e.mu.Lock()
		e.crashes++
		e.mu.Unlock()
	}
}

func (e *Engine) crashesSoFar() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.crashes
}

// backoff is the delay before relaunch n (1-based): 1 s, 2 s, 4 s … 30 s.
func backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := time.Second << min(n-1, 5)
	return min(d, maxBackoff)
}

// flags are Chromium's command line (browser.md §5.1): chromedp's
// defaults with /dev/shm in use (the container sizes it), the profile,
// the cache in /tmp, and named settings only.
func (e *Engine) allocatorOptions() []chromedp.ExecAllocatorOption {
	e.mu.Lock()
	sandbox, dir, chromium := e.sandbox, e.profileDir, e.chromium
	e.mu.Unlock()
	home := filepath.Join(e.cfg.TmpDir, "home")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("disable-dev-shm-usage", false),
		chromedp.UserDataDir(dir),
		chromedp.Flag("disk-cache-dir", filepath.Join(e.cfg.TmpDir, "cache")),
		chromedp.WindowSize(e.cfg.Width, e.cfg.Height),
		chromedp.Flag("lang", e.cfg.Locale),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		// Chromium's own sandbox, or none: as root chromedp would add
		// --no-sandbox by itself, so say it either way.
		chromedp.Flag("no-sandbox", !sandbox),
		chromedp.NoInheritEnv,
		chromedp.Env(
			"HOME="+home,
			"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
			"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"LANG=C.UTF-8",
			"TMPDIR="+e.cfg.TmpDir,
		),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// Chromium and its helpers in a process group of their own, so
			// that a crash or a stop can take down the leftovers; killed
			// with browserd.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		}),
	)
	if e.cfg.UserAgent != "" {
		opts = append(opts, chromedp.UserAgent(e.cfg.UserAgent))
	}
	if e.cfg.ChromiumLog != nil {
		opts = append(opts, chromedp.CombinedOutput(e.cfg.ChromiumLog))
	}
	return opts
}

// launch starts Chromium and attaches to its first tab.
func (e *Engine) launch() (*instance, error) {
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), e.allocatorOptions()...)
	inst := &instance{e: e, allocCancel: allocCancel, started: time.Now()}
	first := inst.newTabState("")
	// chromedp's own log (protocol oddities) is debug output here.
	debug := func(format string, args ...any) { e.log.Debug("chromedp: " + fmt.Sprintf(format, args...)) }
	rootCtx, rootCancel := chromedp.NewContext(allocCtx,
		chromedp.WithListener(first.onEvent),
		chromedp.WithLogf(debug), chromedp.WithErrorf(debug))
	inst.rootCtx, inst.rootCancel = rootCtx, rootCancel
	errc := make(chan error, 1)
	go func() { errc <- chromedp.Do(rootCtx) }()
	select {
	case err := <-errc:
		if err != nil {
			inst.kill()
			return nil, fmt.Errorf("start Chromium: %w", err)
		}
	case <-time.After(launchTimeout):
		inst.kill()
		return nil, fmt.Errorf("start Chromium: no first tab after %s", launchTimeout)
	case <-e.stopped:
		inst.kill()
		return nil, errors.New("stopping")
	}
	c := chromedp.FromContext(rootCtx)
	inst.browser = c.Browser
	inst.lost = c.Browser.LostConnection
	first.attach(rootCtx, nil, c.Target)
	inst.addTab(first)
	ctx, cancel := context.WithTimeout(rootCtx, launchTimeout)
	defer cancel()
	if err := inst.setup(ctx); err != nil {
		inst.kill()
		return nil, err
	}
	if err := first.setup(ctx); err != nil {
		inst.kill()
		return nil, fmt.Errorf("set up the first tab: %w", err)
	}
	version, err := cdp.Call(ctx, inst.browser, browser.GetVersion, cdp.Empty{})
	if err != nil {
		inst.kill()
		return nil, fmt.Errorf("browser version: %w", err)
	}
	_, v, _ := strings.Cut(version.Product, "/")
	e.mu.Lock()
	e.engineVersion = v
	e.mu.Unlock()
	return inst, nil
}

// Status is what /health and /meta report.
type Status struct {
	State           string
	Failure         string
	ChromiumSandbox bool
	Profile         string
	EngineVersion   string
}

// Status returns the engine's state.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{State: e.state, Failure: e.failure, ChromiumSandbox: e.sandbox,
		Profile: e.profileKind, EngineVersion: e.engineVersion}
}

// Ready returns a channel closed while Chromium is ready.
func (e *Engine) Ready() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ready
}

// ChromiumPID returns the process id of the running Chromium, 0 if none.
func (e *Engine) ChromiumPID() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inst == nil {
		return 0
	}
	return e.inst.pid()
}

// Stop refuses new commands, cancels the one in flight and closes Chromium
// gracefully, so that it writes cookies and storage to the profile
// (browser.md §1.5, §5.1). It returns when Chromium is gone or ctx ends.
func (e *Engine) Stop(ctx context.Context) {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.state = wire.StatusStopping
		inst := e.inst
		e.inst = nil
		if e.cancelRunning != nil {
			e.cancelRunning()
		}
		close(e.stopped)
		e.mu.Unlock()
		if inst != nil {
			inst.close(ctx)
		}
		done := make(chan struct{})
		go func() { e.bg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
		e.mu.Lock()
		e.lock.release()
		e.lock = nil
		e.mu.Unlock()
	})
}

// instance is one run of Chromium.
type instance struct {
	e           *Engine
	allocCancel context.CancelFunc
	rootCtx     context.Context
	rootCancel  context.CancelFunc
	browser     *chromedp.Browser
	lost        <-chan struct{}
	started     time.Time

	mu     sync.Mutex
	tabs   []*tab
	active *tab
	tabSeq int
}

func (i *instance) pid() int {
	if i.browser == nil || i.browser.Process() == nil {
		return 0
	}
	return i.browser.Process().Pid
}

// dead reports whether Chromium is gone.
func (i *instance) dead() bool {
	if i.lost == nil {
		return true
	}
	select {
	case <-i.lost:
		return true
	default:
		return false
	}
}

// exitError describes how the process ended.
func (i *instance) exitError() string {
	if i.browser == nil || i.browser.Process() == nil {
		return "unknown"
	}
	return "pid " + fmt.Sprint(i.browser.Process().Pid)
}

// close shuts Chromium down gracefully (Browser.close through chromedp),
// then kills what is left.
func (i *instance) close(ctx context.Context) {
	// chromedp.Cancel needs the chromedp context; the deadline is the
	// earlier of the caller's and stopTimeout.
	deadline := time.Now().Add(stopTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cctx, cancel := context.WithDeadline(i.rootCtx, deadline)
	defer cancel()
	if err := chromedp.Cancel(cctx); err != nil && !errors.Is(err, context.Canceled) {
		i.e.log.Warn("graceful close of Chromium", "err", err)
	}
	i.kill()
}

// kill ends the process group and frees the allocator.
func (i *instance) kill() {
	if pid := i.pid(); pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	if i.rootCancel != nil {
		i.rootCancel()
	}
	if i.allocCancel != nil {
		i.allocCancel()
	}
}

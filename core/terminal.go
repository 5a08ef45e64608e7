package core

import (
	"context"
	"slices"
	"sync"
	"time"
)

// LimitTerminals names the per-sandbox terminal limit in a quota_exceeded
// answer's details (agent-reach.md §3).
const LimitTerminals = "terminal.max_per_sandbox"

// TerminalRequest is what opening a terminal needs besides the sandbox. The
// hooks are the caller's own checks, run at their place in the order of
// agent-reach.md §3 so that the first failure wins.
type TerminalRequest struct {
	// Max is the most terminals this process keeps open on one sandbox
	// (terminal.max_per_sandbox); 0 or less means no limit.
	Max int
	// Check, when not nil, runs after the profile check and before the
	// expiry check: the request's own shape and origin. Its error is
	// returned as is.
	Check func() error
	// Proceed, when not nil, runs once a slot is held and before the
	// runtime is started: the last refusal before compute is spent (a
	// request that is not a WebSocket upgrade). Its error is returned as
	// is.
	Proceed func() error
}

// CheckTerminal runs the first checks of opening a terminal: the sandbox
// exists for the owner (not_found) and its profile grants a terminal, which
// it does when it lists shell (capability_not_supported, details.capability
// "terminal"). It is for requests refused, or tickets issued, before the
// terminal itself is opened.
func (s *SandboxService) CheckTerminal(ctx context.Context, owner, id string) error {
	sb, err := s.store.Sandboxes().GetForOwner(ctx, owner, id)
	if err != nil {
		return err
	}
	_, err = s.admitTerminal(sb, owner)
	return err
}

// admitTerminal is admit for a terminal: a terminal grants what shell
// execution grants, so a profile with shell grants it, and the refusal
// names the terminal.
func (s *SandboxService) admitTerminal(sb *Sandbox, owner string) (*Profile, error) {
	if sb.Owner != owner || sb.DeletedAt != nil {
		return nil, NotFound("Sandbox not found: %s", sb.ID)
	}
	p := s.profile(sb.ProfileID)
	if p == nil {
		return nil, Errorf(CodeCapabilityNotSupported, "Profile not found: %s", sb.ProfileID).
			WithDetails(map[string]any{"capability": CapabilityTerminal})
	}
	if !p.HasCapability(CapabilityShell) {
		return nil, Errorf(CodeCapabilityNotSupported, "Profile '%s' does not support capability: %s (it needs %s)",
			p.ID, CapabilityTerminal, CapabilityShell).
			WithDetails(map[string]any{"capability": CapabilityTerminal, "available": slices.Clone(p.Capabilities)})
	}
	if p.RuntimeType != RuntimeTypeShip {
		return nil, Errorf(CodeInternal, "Unsupported runtime type: %s", p.RuntimeType)
	}
	return p, nil
}

// OpenTerminal admits a terminal on the sandbox and makes its runtime ready
// for one, in the order of agent-reach.md §3 (the caller's hooks in their
// places): sandbox lookup (not_found, also for another owner's), profile
// grants a terminal (capability_not_supported), req.Check, expiry
// (sandbox_expired), this process's open terminals of the sandbox below
// req.Max (quota_exceeded), req.Proceed, ensure_running (session_not_ready,
// internal_error), the runtime's /meta declares terminal
// (capability_not_supported).
//
// The lease it returns holds the slot and the runtime's endpoint; the
// caller connects to the runtime's terminal, re-arms the idle deadline
// while the terminal is open and releases the lease when it closes. A
// failure releases what it reserved.
func (s *SandboxService) OpenTerminal(ctx context.Context, owner, id string, req TerminalRequest) (*TerminalLease, error) {
	sb, err := s.store.Sandboxes().GetForOwner(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.admitTerminal(sb, owner); err != nil {
		return nil, err
	}
	if req.Check != nil {
		if err := req.Check(); err != nil {
			return nil, err
		}
	}
	// ensure_running's claim checks the expiry again under the row lock;
	// this earlier look keeps 409 ahead of the limit and the upgrade.
	if sb.Expired(s.clock.Now()) {
		return nil, expiredError(sb)
	}
	lease, err := s.terminals.reserve(s, id, req.Max)
	if err != nil {
		return nil, err
	}
	if req.Proceed != nil {
		if err := req.Proceed(); err != nil {
			lease.Release()
			return nil, err
		}
	}
	admit := func(sb *Sandbox) (*Profile, error) {
		p, err := s.admitTerminal(sb, owner)
		if err == nil {
			// Under the start lock, which stop and delete take too: from
			// here on they signal this lease; before, they ran first and
			// this terminal gets the runtime started after them.
			s.terminals.start(lease)
		}
		return p, err
	}
	for attempt := 0; ; attempt++ {
		sess, p, err := s.ensureRunning(ctx, id, 0, admit)
		if err != nil {
			lease.Release()
			return nil, err
		}
		if err := s.checkRuntimeCapability(ctx, sess.Target(), CapabilityTerminal); err != nil {
			if attempt == 0 && s.recoverDead(ctx, sess, err) {
				continue
			}
			lease.Release()
			return nil, err
		}
		lease.endpoint, lease.profile = sess.Target(), p
		return lease, nil
	}
}

// TerminalLease is one terminal admitted on a sandbox by this process: it
// holds a slot of the sandbox's limit until released, knows the runtime's
// endpoint, and is signalled when the sandbox is stopped or deleted.
type TerminalLease struct {
	svc       *SandboxService
	sandboxID string
	endpoint  Endpoint
	profile   *Profile
	// gone is closed when the sandbox is stopped or deleted (by this
	// process) while the terminal is open.
	gone     chan struct{}
	goneOnce sync.Once
	// started and held are guarded by the registry's mutex.
	started bool // the runtime is being started for it: stop and delete signal it
	held    bool // it counts against the limit
	release sync.Once
}

// SandboxID returns the sandbox the terminal is open on.
func (l *TerminalLease) SandboxID() string { return l.sandboxID }

// Endpoint returns where the sandbox's runtime listens and its token.
func (l *TerminalLease) Endpoint() Endpoint { return l.endpoint }

// IdleTimeout returns the profile's idle timeout: the open terminal keeps
// the sandbox from idling by re-arming more often than that.
func (l *TerminalLease) IdleTimeout() time.Duration {
	if l.profile == nil {
		return 0
	}
	return l.profile.IdleTimeout
}

// RearmInterval is how often an open terminal re-arms the idle deadline:
// min(60 s, idle timeout / 2, idle pause / 2), at least one second. The
// idle pause counts from the deadline too: another instance must not pause
// the runtime under a terminal open here.
func (l *TerminalLease) RearmInterval() time.Duration {
	d := min(time.Minute, l.IdleTimeout()/2)
	if l.profile != nil && l.profile.IdlePause > 0 {
		d = min(d, l.profile.IdlePause/2)
	}
	return max(d, time.Second)
}

// Gone is closed when the sandbox is stopped or deleted by this process:
// the terminal is to close (4409) before its runtime goes.
func (l *TerminalLease) Gone() <-chan struct{} { return l.gone }

// Rearm pushes the sandbox's idle deadline to now + idle timeout, as a call
// does when it ends: a database write, so that idle GC of every instance
// sees the terminal's activity. A stopped sandbox keeps its cleared
// deadline.
func (l *TerminalLease) Rearm(ctx context.Context) {
	if l.profile == nil {
		return
	}
	l.svc.rearmIdle(ctx, l.sandboxID, l.profile)
}

// Release frees the terminal's slot and, if the terminal was open, re-arms
// the idle deadline once more: the idle timeout counts from its close.
// Further calls do nothing.
func (l *TerminalLease) Release() {
	l.release.Do(func() {
		l.svc.terminals.drop(l)
		if l.profile != nil {
			l.Rearm(context.Background())
		}
	})
}

func (l *TerminalLease) signal() { l.goneOnce.Do(func() { close(l.gone) }) }

// terminalRegistry holds the terminals this process has open, per sandbox:
// it counts them against the per-sandbox limit (a count per process, as
// agent-reach.md §3 allows) and signals them when their sandbox goes. The
// zero value is ready to use.
type terminalRegistry struct {
	mu   sync.Mutex
	open map[string]map[*TerminalLease]struct{}
}

// reserve takes a slot for a new terminal on the sandbox, or fails with
// quota_exceeded when max are open already.
func (r *terminalRegistry) reserve(svc *SandboxService, sandboxID string, max int) (*TerminalLease, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.open[sandboxID]
	if max > 0 && len(set) >= max {
		return nil, quotaExceeded(LimitTerminals, int64(max), int64(len(set)))
	}
	if set == nil {
		if r.open == nil {
			r.open = map[string]map[*TerminalLease]struct{}{}
		}
		set = map[*TerminalLease]struct{}{}
		r.open[sandboxID] = set
	}
	l := &TerminalLease{svc: svc, sandboxID: sandboxID, gone: make(chan struct{}), held: true}
	set[l] = struct{}{}
	return l, nil
}

// has reports whether a terminal is open (or opening) on the sandbox.
func (r *terminalRegistry) has(sandboxID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open[sandboxID]) > 0
}

// start marks the lease as one whose runtime is being started.
func (r *terminalRegistry) start(l *TerminalLease) {
	r.mu.Lock()
	l.started = l.held
	r.mu.Unlock()
}

// drop frees the lease's slot.
func (r *terminalRegistry) drop(l *TerminalLease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remove(l)
}

func (r *terminalRegistry) remove(l *TerminalLease) {
	if !l.held {
		return
	}
	l.held, l.started = false, false
	set := r.open[l.sandboxID]
	delete(set, l)
	if len(set) == 0 {
		delete(r.open, l.sandboxID)
	}
}

// closeSandbox signals the started terminals of the sandbox to close and
// frees their slots: the sandbox is being stopped or deleted. It returns
// how many it signalled.
func (r *terminalRegistry) closeSandbox(sandboxID string) int {
	r.mu.Lock()
	var signalled []*TerminalLease
	for l := range r.open[sandboxID] {
		if l.started {
			r.remove(l)
			signalled = append(signalled, l)
		}
	}
	r.mu.Unlock()
	for _, l := range signalled {
		l.signal()
	}
	return len(signalled)
}

// closeTerminals is teardown's hook: the terminals this process has open
// on the sandbox close (4409) before its runtime goes.
func (s *SandboxService) closeTerminals(sandboxID string) {
	if n := s.terminals.closeSandbox(sandboxID); n > 0 {
		s.log.Debug("closing terminals of a sandbox going away", "sandbox_id", sandboxID, "terminals", n)
	}
}

package core

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// SandboxServiceOptions configures a SandboxService.
type SandboxServiceOptions struct {
	Store   Store
	Runtime Runtime
	Ship    Ship
	// RuntimeClients are the clients of runtime types other than Ship's,
	// by runtime type (RuntimeTypeBrowser, …): what a session's container
	// of that type is probed and checked with (its /health and /meta). Ship
	// serves RuntimeTypeShip unless an entry replaces it; a type without a
	// client is probed with Ship's, but no capability call is routed to it.
	RuntimeClients map[string]RuntimeMeta
	Clock          Clock
	IDs            IDs
	// Profiles is the configured menu, in configuration order.
	Profiles []Profile
	// DefaultLockerSizeMB is recorded on lockers created without a size.
	DefaultLockerSizeMB int64
	// Quotas bound what each owner holds; the zero value bounds nothing.
	Quotas Quotas
	// EnforceLockerSizes says whether the runtime holds managed lockers
	// (sized by DefaultLockerSizeMB) to their limit: only EnforceAll does.
	EnforceLockerSizes SizeEnforcement
	// InstanceID identifies this Bay process on the containers it creates
	// and on the session starts it claims.
	InstanceID string
	// ReadinessTimeout bounds the wait for a new runtime's /health (120 s).
	ReadinessTimeout time.Duration
	// ProbeTimeout bounds one /health probe (2 s).
	ProbeTimeout time.Duration
	// StartedAt is when this process started: a start claimed by this
	// instance before then is a leftover of a crash.
	StartedAt time.Time
	Logger    *slog.Logger
	// Metrics, when set, counts session starts and runtime errors.
	Metrics Metrics
	// PoolMetrics, when set, counts warm pool claims and refills.
	PoolMetrics PoolMetrics
}

// Metrics receives the events of the sandbox service worth counting.
type Metrics interface {
	// SessionStart records a runtime start, from its claim to its runtime
	// answering (err nil) or failing.
	SessionStart(d time.Duration, err error)
	// RuntimeError records a failed runtime operation.
	RuntimeError(op string)
	// SessionPaused records a session paused for idleness (idle_pause).
	SessionPaused()
	// SessionResumed records a paused session resumed by a call, with how
	// long its containers took to thaw.
	SessionResumed(d time.Duration)
}

type noMetrics struct{}

func (noMetrics) SessionStart(time.Duration, error) {}
func (noMetrics) RuntimeError(string)               {}
func (noMetrics) SessionPaused()                    {}
func (noMetrics) SessionResumed(time.Duration)      {}

// SandboxService holds every rule about sandboxes and their sessions:
// create, lookup, TTLs, stop, delete, and running capability calls on a
// sandbox's runtime, starting it on demand.
type SandboxService struct {
	store    Store
	runtime  Runtime
	ship     Ship
	clients  map[string]RuntimeMeta // by runtime type, Ship's included
	clock    Clock
	ids      IDs
	profiles []Profile
	opts     SandboxServiceOptions
	log      *slog.Logger

	// starts serialises ensure_running per sandbox inside this process; the
	// database's row lock and one-active-session index hold across processes.
	starts keyedMutex

	metaMu sync.Mutex
	meta   map[string]RuntimeCapabilities // /meta's capabilities, per endpoint
	docs   map[string]runtimeDoc          // runtime documents, per image

	terminals terminalRegistry // terminals open in this process (terminal.go)

	// calls counts the capability calls in flight in this process, and
	// pauseUnsupported is set once the runtime declined to pause (pause.go).
	calls            callCounter
	pauseUnsupported atomic.Bool

	// poolKeys is the ProfileKey of every profile; poolKick wakes PoolLoop.
	poolKeys map[string]string
	poolKick chan struct{}
}

// NewSandboxService returns a SandboxService.
func NewSandboxService(o SandboxServiceOptions) *SandboxService {
	if o.ReadinessTimeout == 0 {
		o.ReadinessTimeout = 120 * time.Second
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = 2 * time.Second
	}
	if o.DefaultLockerSizeMB == 0 {
		o.DefaultLockerSizeMB = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	if o.PoolMetrics == nil {
		o.PoolMetrics = noPoolMetrics{}
	}
	if o.StartedAt.IsZero() {
		o.StartedAt = o.Clock.Now()
	}
	clients := map[string]RuntimeMeta{}
	if o.Ship != nil {
		clients[RuntimeTypeShip] = o.Ship
	}
	for t, c := range o.RuntimeClients {
		if c != nil {
			clients[t] = c
		}
	}
	keys := make(map[string]string, len(o.Profiles))
	for i := range o.Profiles {
		keys[o.Profiles[i].ID] = ProfileKey(&o.Profiles[i])
	}
	return &SandboxService{
		store: o.Store, runtime: o.Runtime, ship: o.Ship, clients: clients, clock: o.Clock, ids: o.IDs,
		profiles: o.Profiles, opts: o, log: o.Logger, meta: map[string]RuntimeCapabilities{}, docs: map[string]runtimeDoc{},
		poolKeys: keys, poolKick: make(chan struct{}, 1),
	}
}

// DefaultProfileID is the profile of a sandbox created without one.
const DefaultProfileID = "python-default"

// Profiles returns the configured profiles in configuration order.
func (s *SandboxService) Profiles() []Profile { return s.profiles }

// profile returns the configured profile with the given id, or nil.
func (s *SandboxService) profile(id string) *Profile {
	for i := range s.profiles {
		if s.profiles[i].ID == id {
			return &s.profiles[i]
		}
	}
	return nil
}

// info renders a sandbox for clients at now.
func (s *SandboxService) info(sb *Sandbox, now time.Time) *SandboxInfo {
	caps := []string{}
	if p := s.profile(sb.ProfileID); p != nil {
		caps = append(caps, p.Capabilities...)
	}
	return &SandboxInfo{
		ID: sb.ID, Status: sb.Status(now), Paused: sb.CurrentSessionState == SessionPaused,
		Profile: sb.ProfileID, LockerID: sb.LockerID,
		Capabilities: caps, CreatedAt: sb.CreatedAt, ExpiresAt: sb.ExpiresAt,
		IdleExpiresAt: sb.IdleExpiresAt, StopReason: sb.StopReason,
	}
}

// maxTimestamp is the latest instant Bay stores: timestamps must round-trip
// through both databases and RFC 3339 with a four-digit year.
var maxTimestamp = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// addSeconds returns t + secs, or false if the result is past maxTimestamp.
func addSeconds(t time.Time, secs int64) (time.Time, bool) {
	if secs > int64(maxTimestamp.Sub(t)/time.Second) || secs > math.MaxInt64/int64(time.Second) {
		return time.Time{}, false
	}
	return t.Add(time.Duration(secs) * time.Second), true
}

// Create creates a sandbox with a managed locker, or attached to the
// caller's external locker in.LockerID. No container is started.
//
// Errors: validation_error for an unknown profile or a TTL beyond the
// timestamp range; not_found for an unknown locker; conflict for a managed
// locker.
func (s *SandboxService) Create(ctx context.Context, owner string, in CreateSandboxInput) (*SandboxInfo, error) {
	if in.Profile == "" {
		in.Profile = DefaultProfileID
	}
	if s.profile(in.Profile) == nil {
		return nil, Invalid("Invalid profile: %s", in.Profile).WithDetails(map[string]any{"profile": in.Profile})
	}
	now := s.clock.Now()
	sb := &Sandbox{
		ID: s.ids.New(SandboxIDPrefix), Owner: owner, ProfileID: in.Profile, Version: 1,
		CreatedAt: now, UpdatedAt: now, LastActiveAt: now,
	}
	if in.TTL > 0 {
		exp, ok := addSeconds(now, in.TTL)
		if !ok {
			return nil, Invalid("ttl is too large").WithDetails(map[string]any{"ttl": in.TTL})
		}
		sb.ExpiresAt = &exp
	}

	if p := s.profile(in.Profile); p.WarmPool > 0 && in.LockerID == "" {
		// A runtime already started, if the pool has one: the first call
		// then waits for no container and no kernel.
		info, ok, err := s.createFromPool(ctx, p, sb)
		if err != nil || ok {
			return info, err
		}
	}

	quota := s.opts.Quotas.For(owner)
	addMB := int64(-1) // no managed locker to count
	if in.LockerID == "" {
		addMB = s.opts.DefaultLockerSizeMB
	}
	// A check before the volume exists spares creating one for nothing;
	// the one in the transaction below is the one that holds.
	if quota.limited() {
		if err := checkSandboxQuota(ctx, s.store, quota, owner, addMB); err != nil {
			return nil, err
		}
	}

	var managed *Locker
	if in.LockerID != "" {
		l, err := s.store.Lockers().GetForOwner(ctx, owner, in.LockerID)
		if err != nil {
			return nil, err
		}
		if l.Managed {
			return nil, Conflict("Locker %s is managed by sandbox %s and cannot be attached to another sandbox", l.ID, l.ManagedBySandboxID).
				WithDetails(map[string]any{"locker_id": l.ID, "managed_by_sandbox_id": l.ManagedBySandboxID})
		}
		sb.LockerID = l.ID
	} else {
		managed = &Locker{
			ID: s.ids.New(LockerIDPrefix), Owner: owner, Backend: LockerBackendDockerVolume,
			Managed: true, ManagedBySandboxID: sb.ID, SizeLimitMB: s.opts.DefaultLockerSizeMB,
			CreatedAt: now, UpdatedAt: now, LastAccessedAt: now,
		}
		managed.DriverRef = VolumeName(managed.ID)
		sb.LockerID = managed.ID
		spec := VolumeSpec{LockerID: managed.ID, Owner: owner, Managed: true}
		if s.opts.EnforceLockerSizes.Enforces(false) {
			spec.SizeLimitMB = managed.SizeLimitMB
		}
		if err := s.runtime.CreateVolume(ctx, spec); err != nil {
			s.opts.Metrics.RuntimeError("create_volume")
			return nil, Wrap(err, CodeInternal, "create locker volume")
		}
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		err := underOwnerLock(ctx, tx, quota, owner, func() error {
			return checkSandboxQuota(ctx, tx, quota, owner, addMB)
		})
		if err != nil {
			return err
		}
		if managed != nil {
			if err := tx.Lockers().Create(ctx, managed); err != nil {
				return err
			}
		}
		return tx.Sandboxes().Create(ctx, sb)
	})
	if err != nil {
		if managed != nil {
			if derr := s.runtime.DeleteVolume(context.WithoutCancel(ctx), managed.ID); derr != nil {
				s.log.WarnContext(ctx, "remove volume of failed create", "locker_id", managed.ID, "err", derr)
			}
		}
		return nil, err
	}
	return s.info(sb, now), nil
}

// Get returns the caller's sandbox. Errors: not_found.
func (s *SandboxService) Get(ctx context.Context, owner, id string) (*SandboxInfo, error) {
	sb, err := s.store.Sandboxes().GetForOwner(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	info := s.info(sb, s.clock.Now())
	info.Containers = s.containerStatuses(ctx, sb)
	return info, nil
}

// containerStatuses lists the sandbox's containers: its current session's
// with the session's state, else the profile's as stopped (none when the
// profile is gone).
func (s *SandboxService) containerStatuses(ctx context.Context, sb *Sandbox) []ContainerStatus {
	var sess *Session
	if sb.CurrentSessionID != "" {
		sess, _ = s.store.Sessions().Get(ctx, sb.CurrentSessionID) // gone meanwhile: none
	}
	out := []ContainerStatus{}
	if sess != nil && len(sess.Containers) > 0 {
		for _, c := range sess.Containers {
			out = append(out, ContainerStatus{Name: c.Name, RuntimeType: c.RuntimeType, Status: string(sess.ObservedState)})
		}
		return out
	}
	p := s.profile(sb.ProfileID)
	if p == nil {
		return out
	}
	status := string(SessionStopped)
	if sess != nil {
		status = string(sess.ObservedState)
	}
	for _, c := range p.ContainerList() {
		out = append(out, ContainerStatus{Name: c.Name, RuntimeType: c.RuntimeType, Status: status})
	}
	return out
}

// List returns a page of the caller's sandboxes. status filters by computed
// status when it names one; any other value is ignored.
// Errors: validation_error for a limit outside 1..200.
func (s *SandboxService) List(ctx context.Context, owner, cursor string, limit int, status string) (Page[SandboxInfo], error) {
	now := s.clock.Now()
	f, err := NewSandboxFilter(owner, cursor, limit, status, now)
	if err != nil {
		return Page[SandboxInfo]{}, err
	}
	list, err := s.store.Sandboxes().List(ctx, f)
	if err != nil {
		return Page[SandboxInfo]{}, err
	}
	items := make([]SandboxInfo, 0, len(list))
	for _, sb := range list {
		items = append(items, *s.info(sb, now))
	}
	return newPage(items, limit, func(i SandboxInfo) string { return i.ID }), nil
}

// CountByStatus counts the live sandboxes of every owner by their status
// now; statuses with none are absent.
func (s *SandboxService) CountByStatus(ctx context.Context) (map[SandboxStatus]int64, error) {
	counts, err := s.store.Sandboxes().CountByState(ctx, s.clock.Now())
	if err != nil {
		return nil, err
	}
	return StatusCounts(counts), nil
}

// CountPaused counts the live sandboxes whose current session is paused.
func (s *SandboxService) CountPaused(ctx context.Context) (int64, error) {
	counts, err := s.store.Sandboxes().CountByState(ctx, s.clock.Now())
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range counts {
		if c.SessionState == SessionPaused {
			n += c.N
		}
	}
	return n, nil
}

// ExtendTTL moves the hard TTL of a finite, unexpired sandbox by extendBy
// seconds from max(expires_at, now), under the sandbox's row lock so that
// concurrent extends accumulate.
//
// Errors: validation_error for extendBy <= 0 or an overflowing result;
// not_found; sandbox_ttl_infinite; sandbox_expired.
func (s *SandboxService) ExtendTTL(ctx context.Context, owner, id string, extendBy int64) (*SandboxInfo, error) {
	if extendBy <= 0 {
		return nil, Invalid("extend_by must be a positive integer").WithDetails(map[string]any{"extend_by": extendBy})
	}
	if _, err := s.store.Sandboxes().GetForOwner(ctx, owner, id); err != nil {
		return nil, err
	}
	var (
		sb  *Sandbox
		now time.Time
	)
	err := s.store.InTx(ctx, func(tx Store) error {
		var err error
		sb, err = tx.Sandboxes().GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now = s.clock.Now()
		if sb.DeletedAt != nil {
			return NotFound("Sandbox not found: %s", id)
		}
		if sb.ExpiresAt == nil {
			return Errorf(CodeSandboxTTLInfinite, "Sandbox %s has an infinite TTL and cannot be extended", id).
				WithDetails(map[string]any{"sandbox_id": id})
		}
		if sb.ExpiresAt.Before(now) {
			return expiredError(sb)
		}
		from := *sb.ExpiresAt
		if now.After(from) {
			from = now
		}
		exp, ok := addSeconds(from, extendBy)
		if !ok {
			return Invalid("extend_by is too large").WithDetails(map[string]any{"extend_by": extendBy})
		}
		sb.ExpiresAt = &exp
		sb.UpdatedAt = now
		return tx.Sandboxes().Save(ctx, sb)
	})
	if err != nil {
		return nil, err
	}
	return s.info(sb, now), nil
}

func expiredError(sb *Sandbox) *Error {
	return Errorf(CodeSandboxExpired, "Sandbox %s has expired", sb.ID).
		WithDetails(map[string]any{"sandbox_id": sb.ID, "expires_at": FormatTime(*sb.ExpiresAt)})
}

// FormatTime renders a timestamp as the API does: UTC, six fractional
// digits, Z.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// Keepalive re-arms the idle deadline (also without a running session) and
// the activity time. It never starts compute nor touches the TTL, and works
// on expired sandboxes. Errors: not_found.
func (s *SandboxService) Keepalive(ctx context.Context, owner, id string) error {
	if _, err := s.store.Sandboxes().GetForOwner(ctx, owner, id); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if p := s.profile(sb.ProfileID); p != nil {
			idle := now.Add(p.IdleTimeout)
			sb.IdleExpiresAt = &idle
		}
		sb.LastActiveAt = now
		sb.UpdatedAt = now
		return tx.Sandboxes().Save(ctx, sb)
	})
}

// Stop reclaims the sandbox's compute: every session's container is removed
// and its row deleted, the current session and idle deadline are cleared.
// The sandbox and its locker stay. Idempotent. Errors: not_found.
func (s *SandboxService) Stop(ctx context.Context, owner, id string) error {
	if _, err := s.store.Sandboxes().GetForOwner(ctx, owner, id); err != nil {
		return err
	}
	_, err := s.reclaim(ctx, id, StopReasonUser, nil)
	return err
}

// reclaim destroys every session of a sandbox and clears its current
// session and idle deadline, recording why. check, when not nil, runs under
// the row lock first: it returns false to skip the sandbox (GC's double
// check). It reports whether the sandbox was reclaimed.
//
// The sandbox is released in the same transaction that checks it, before
// any container is touched: another instance's GC that checks it next finds
// nothing to do, so no two instances reclaim the same sandbox.
func (s *SandboxService) reclaim(ctx context.Context, id string, reason StopReason, check func(*Sandbox, time.Time) bool) (bool, error) {
	return s.teardown(ctx, id, check, func(sb *Sandbox, sessions []*Session, now time.Time) {
		sb.CurrentSessionID = ""
		sb.IdleExpiresAt = nil
		if len(sessions) > 0 || reason != StopReasonUser {
			sb.StopReason = reason
		}
	})
}

// teardown runs the shared shape of stop, idle reclaim and delete: under
// the row lock, check, mark every session stopping and apply change to the
// sandbox; then remove the containers; then delete the session rows.
func (s *SandboxService) teardown(ctx context.Context, id string, check func(*Sandbox, time.Time) bool,
	change func(sb *Sandbox, sessions []*Session, now time.Time)) (bool, error) {
	unlock := s.starts.Lock(id)
	defer unlock()
	var sessions []*Session
	skip := false
	err := s.store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if sb.DeletedAt != nil || (check != nil && !check(sb, now)) {
			skip = true
			return nil
		}
		sessions, err = s.markStopping(ctx, tx, id)
		if err != nil {
			return err
		}
		change(sb, sessions, now)
		sb.UpdatedAt = now
		return tx.Sandboxes().Save(ctx, sb)
	})
	if err != nil || skip {
		return false, err
	}
	// This process's terminals on the sandbox close first (4409), before
	// their runtime goes.
	s.closeTerminals(id)
	s.destroyContainers(ctx, sessions)
	err = s.store.InTx(ctx, func(tx Store) error {
		for _, sess := range sessions {
			if err := tx.Sessions().Delete(ctx, sess.ID); err != nil && CodeOf(err) != CodeNotFound {
				return err
			}
		}
		return nil
	})
	return true, err
}

// markStopping marks every session of the sandbox as wanted stopped, so
// that a start in flight elsewhere notices and gives up, and returns them.
func (s *SandboxService) markStopping(ctx context.Context, tx Store, sandboxID string) ([]*Session, error) {
	sessions, err := tx.Sessions().ListBySandbox(ctx, sandboxID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	for _, sess := range sessions {
		sess.DesiredState = SessionStopped
		sess.ObservedState = SessionStopping
		sess.UpdatedAt = now
		if err := tx.Sessions().Save(ctx, sess); err != nil {
			return nil, err
		}
	}
	return sessions, nil
}

// browserStopGrace is how long a browser container gets to close Chromium
// (flushing cookies and storage to the Locker) before it is killed.
const browserStopGrace = 10 * time.Second

// destroyContainers tears the sessions' containers down (browser.md §1.5):
// browser containers are stopped with browserStopGrace first, then every
// container is force-removed, the network owner last. Failures are logged,
// not returned: GC's orphan-container task removes what is left.
func (s *SandboxService) destroyContainers(ctx context.Context, sessions []*Session) {
	ctx = context.WithoutCancel(ctx)
	for _, sess := range sessions {
		s.forgetMeta(sess.Endpoints()...)
		var wg sync.WaitGroup
		for _, c := range sess.Containers {
			if c.RuntimeType != RuntimeTypeBrowser || c.ContainerID == "" {
				continue
			}
			wg.Go(func() {
				if err := s.runtime.StopContainer(ctx, c.ContainerID, browserStopGrace); err != nil {
					s.opts.Metrics.RuntimeError("stop_container")
					s.log.WarnContext(ctx, "stop browser container", "session_id", sess.ID, "container_id", c.ContainerID, "err", err)
				}
			})
		}
		wg.Wait()
		s.removeContainers(ctx, sess.ID, sess.ContainerIDs(), "remove container")
	}
}

// Delete destroys the sandbox's sessions, soft-deletes it and deletes its
// managed locker (never an external one). Errors: not_found; internal_error
// if the locker's volume cannot be removed (orphan-locker GC retries).
func (s *SandboxService) Delete(ctx context.Context, owner, id string) error {
	if _, err := s.store.Sandboxes().GetForOwner(ctx, owner, id); err != nil {
		return err
	}
	_, err := s.destroy(ctx, id, nil)
	return err
}

// destroy is Delete without the owner check, shared with expired-sandbox GC.
func (s *SandboxService) destroy(ctx context.Context, id string, check func(*Sandbox, time.Time) bool) (bool, error) {
	var lockerID string
	done, err := s.teardown(ctx, id, check, func(sb *Sandbox, _ []*Session, now time.Time) {
		sb.DeletedAt = &now
		sb.CurrentSessionID = ""
		sb.IdleExpiresAt = nil
		lockerID = sb.LockerID
	})
	if err != nil || !done || lockerID == "" {
		return done, err
	}
	l, err := s.store.Lockers().Get(ctx, lockerID)
	if CodeOf(err) == CodeNotFound {
		return true, nil
	}
	if err != nil {
		return true, err
	}
	if !l.Managed || l.ManagedBySandboxID != id {
		return true, nil // external lockers outlive their sandboxes
	}
	return true, s.deleteLocker(ctx, l)
}

// deleteLocker removes a locker's volume, then its row.
func (s *SandboxService) deleteLocker(ctx context.Context, l *Locker) error {
	if err := s.runtime.DeleteVolume(ctx, l.ID); err != nil {
		s.opts.Metrics.RuntimeError("delete_volume")
		return Wrap(err, CodeOf(err), "delete locker volume "+l.ID)
	}
	if err := s.store.Lockers().Delete(ctx, l.ID); err != nil && CodeOf(err) != CodeNotFound {
		return err
	}
	return nil
}

package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// startDecision is what the claim transaction decided for a caller.
type startDecision int

const (
	decideReady  startDecision = iota // the session is running: use it
	decideStart                       // this caller claimed the start: do it
	decideWait                        // another caller is starting it: wait
	decideResume                      // the session was paused: thaw it, then use it
)

// claimMargin is added to the readiness timeout before a start claim by a
// live instance counts as abandoned.
const claimMargin = 30 * time.Second

// ensureRunning makes sure the sandbox has one current session whose
// runtime is running and ready, and returns it (lifecycle.md §5). It never
// holds a transaction across the container start or the readiness wait: the
// start is claimed in the database (session observed_state = starting,
// claimed_by = this instance), committed, performed, then recorded.
// Concurrent callers, in this process or another, wait for the claim to
// settle instead of starting a second container.
//
// busy pushes the idle deadline past the coming call. admit runs in the
// claim, on the row it reads and locks, before anything else is decided: it
// checks that the caller may use the sandbox and returns the profile to run
// it with, so that a call reads its sandbox once. Its error is returned as
// is.
func (s *SandboxService) ensureRunning(ctx context.Context, sandboxID string, busy time.Duration,
	admit func(*Sandbox) (*Profile, error)) (*Session, *Profile, error) {
	unlock := s.starts.Lock(sandboxID)
	defer unlock()
	deadline := s.clock.Now().Add(s.opts.ReadinessTimeout + claimMargin)
	waited := false
	for {
		decision, sess, locker, p, err := s.claim(ctx, sandboxID, busy, admit)
		if err != nil {
			return nil, nil, err
		}
		switch decision {
		case decideReady:
			return sess, p, nil
		case decideStart:
			sess, err := s.start(ctx, sandboxID, sess, locker, p, busy)
			return sess, p, err
		case decideResume:
			resumed, err := s.resume(ctx, sandboxID, sess)
			if err != nil {
				return nil, nil, err
			}
			if resumed {
				return sess, p, nil
			}
			continue // its container was gone: the next claim starts new ones
		}
		if waited && sess.ObservedState == SessionFailed {
			return nil, nil, notReady(sandboxID, nil)
		}
		waited = true
		if err := s.waitForStart(ctx, sess.ID, deadline); err != nil {
			return nil, nil, notReady(sandboxID, err)
		}
	}
}

func notReady(sandboxID string, cause error) error {
	return (&Error{Code: CodeSessionNotReady, Message: "Runtime failed to become ready", Err: cause}).
		WithDetails(map[string]any{"sandbox_id": sandboxID, "retry_after_ms": 1000})
}

// claim runs one transaction with the sandbox row locked and decides.
func (s *SandboxService) claim(ctx context.Context, sandboxID string, busy time.Duration,
	admit func(*Sandbox) (*Profile, error)) (startDecision, *Session, *Locker, *Profile, error) {
	var (
		decision startDecision
		out      *Session
		locker   *Locker
		p        *Profile
	)
	err := s.store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, sandboxID)
		if err != nil {
			return err
		}
		if sb.DeletedAt != nil {
			return NotFound("Sandbox not found: %s", sandboxID)
		}
		if p, err = admit(sb); err != nil {
			return err
		}
		now := s.clock.Now()
		if sb.Expired(now) {
			return expiredError(sb)
		}

		var sess *Session
		if sb.CurrentSessionID != "" {
			sess, err = tx.Sessions().Get(ctx, sb.CurrentSessionID)
			if err != nil && CodeOf(err) != CodeNotFound {
				return err
			}
			if sess != nil && !sess.Active() {
				sess = nil // being stopped: start afresh
			}
		}
		if sess == nil {
			// A session that wants to run but is not current (a crash
			// between two writes) is adopted rather than duplicated.
			all, err := tx.Sessions().ListBySandbox(ctx, sb.ID)
			if err != nil {
				return err
			}
			for _, other := range all {
				if other.Active() {
					sess = other
					sb.CurrentSessionID = other.ID
				}
			}
		}
		if sess == nil {
			q := s.opts.Quotas.For(sb.Owner)
			err := underOwnerLock(ctx, tx, Quota{MaxRunningSessions: q.MaxRunningSessions}, sb.Owner, func() error {
				return checkSessionQuota(ctx, tx, q, sb.Owner)
			})
			if err != nil {
				return err
			}
			sess = &Session{
				ID: s.ids.New(SessionIDPrefix), SandboxID: sb.ID, RuntimeType: p.RuntimeType,
				ProfileID: p.ID, DesiredState: SessionRunning, ObservedState: SessionPending,
				CreatedAt: now, UpdatedAt: now, LastActiveAt: now, RuntimeToken: NewRuntimeToken(),
			}
			if err := tx.Sessions().Insert(ctx, sess); err != nil {
				return err
			}
			sb.CurrentSessionID = sess.ID
		}

		switch {
		case sess.ObservedState == SessionRunning && sess.Endpoint != "" && sess.RuntimeToken != "":
			decision = decideReady
		case sess.ObservedState == SessionPaused && sess.Endpoint != "" && sess.RuntimeToken != "":
			// Marked running before the thaw, which runs after the commit:
			// a pause in flight then sees it resumed and thaws again
			// (pause.go).
			decision = decideResume
			sess.ObservedState = SessionRunning
			sess.LastObservedAt = &now
			sess.UpdatedAt = now
			if err := tx.Sessions().Save(ctx, sess); err != nil {
				return err
			}
		case sess.ObservedState == SessionStarting && !s.claimAbandoned(sess, now):
			decision = decideWait
		default:
			// pending, failed, or an abandoned start: this caller claims it.
			// The locker is needed only to start a container, so only this
			// branch reads it: the hot path of a ready session does not.
			if sb.LockerID == "" {
				return NotFound("Locker of sandbox %s not found", sandboxID)
			}
			if locker, err = tx.Lockers().Get(ctx, sb.LockerID); err != nil {
				return err
			}
			decision = decideStart
			if sess.RuntimeToken == "" {
				// A session of a Bay that predates runtime tokens: its
				// container, if any, is replaced by one that has a token.
				sess.RuntimeToken = NewRuntimeToken()
			}
			sess.ObservedState = SessionStarting
			sess.DesiredState = SessionRunning
			sess.ClaimedBy = s.opts.InstanceID
			sess.ClaimedAt = &now
			sess.LastObservedAt = &now
			sess.UpdatedAt = now
			if err := tx.Sessions().Save(ctx, sess); err != nil {
				return err
			}
		}

		idle := now.Add(p.IdleTimeout)
		if until := now.Add(busy); busy > 0 && until.After(idle) {
			idle = until
		}
		out = sess
		if decision == decideReady && sb.IdleExpiresAt != nil && absDuration(idle.Sub(*sb.IdleExpiresAt)) < idleSlack(p) {
			// Calls in quick succession: the deadline already stands where
			// this one would put it, give or take the slack. Not writing
			// the row spares the hot path a write per call.
			return nil
		}
		sb.IdleExpiresAt = &idle
		sb.LastActiveAt = now
		sb.UpdatedAt = now
		return tx.Sandboxes().Save(ctx, sb)
	})
	return decision, out, locker, p, err
}

// idleSlack is how far a ready sandbox's idle deadline may stand from
// where a call would move it before the call writes it: a hundredth of the
// idle timeout, at most a second, and at most a tenth of the idle pause,
// which counts from the deadline too (pause.go).
func idleSlack(p *Profile) time.Duration {
	d := min(time.Second, p.IdleTimeout/100)
	if p.IdlePause > 0 {
		d = min(d, p.IdlePause/10)
	}
	return d
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// claimAbandoned reports whether a start claim is a leftover: made by this
// instance before it (re)started, or older than any start can take.
func (s *SandboxService) claimAbandoned(sess *Session, now time.Time) bool {
	if sess.ClaimedAt == nil {
		return true
	}
	if sess.ClaimedBy == s.opts.InstanceID && sess.ClaimedAt.Before(s.opts.StartedAt) {
		return true
	}
	return now.Sub(*sess.ClaimedAt) > s.opts.ReadinessTimeout+claimMargin
}

// waitForStart polls the session row until its start settles (running,
// failed, gone) or the deadline passes.
func (s *SandboxService) waitForStart(ctx context.Context, sessionID string, deadline time.Time) error {
	delay := 20 * time.Millisecond
	for {
		sess, err := s.store.Sessions().Get(ctx, sessionID)
		if CodeOf(err) == CodeNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if sess.ObservedState != SessionStarting || !sess.Active() {
			return nil
		}
		if s.clock.Now().After(deadline) {
			return Errorf(CodeSessionNotReady, "start claimed by %s did not settle", sess.ClaimedBy)
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// start creates and starts the claimed session's containers, waits for
// their runtimes to answer, and records the outcome (browser.md §1.4): the
// containers are created in profile order, each id recorded at once; the
// network owner is started first, then the others; every /health is
// polled in parallel and the session runs only when all answer. Any
// failure removes every container and marks the session failed.
func (s *SandboxService) start(ctx context.Context, sandboxID string, sess *Session, locker *Locker, p *Profile, busy time.Duration) (_ *Session, err error) {
	began := time.Now()
	defer func() { s.opts.Metrics.SessionStart(time.Since(began), err) }()
	// The start outlives a cancelled request: other callers wait on it.
	ctx = context.WithoutCancel(ctx)
	if leftovers := sess.ContainerIDs(); len(leftovers) > 0 {
		// Leftovers of an abandoned start or a failed one.
		s.forgetMeta(sess.Endpoints()...)
		s.removeContainers(ctx, sess.ID, leftovers, "remove leftover container")
		sess.ContainerID, sess.Endpoint, sess.Containers = "", "", nil
	}
	plan := containerPlan(p, s.clock.Now())
	// A locker belongs to the owner of the sandboxes that mount it.
	base := ContainerSpec{
		SessionID: sess.ID, SandboxID: sandboxID, LockerID: locker.ID, Owner: locker.Owner,
		InstanceID: s.opts.InstanceID, Profile: p, RuntimeToken: sess.RuntimeToken,
	}
	ids, err := s.launch(ctx, base, plan, func(ids []string) error {
		recorded := slices.Clone(plan)
		if err := s.update(ctx, sess, func(cur *Session) {
			cur.ContainerID = ids[0]
			cur.Containers = recorded
		}); err != nil {
			return notReady(sandboxID, err)
		}
		return nil
	})
	if err != nil {
		s.recordFailure(ctx, sandboxID, sess, ids)
		return nil, err
	}
	now := s.clock.Now()
	for i := range plan {
		plan[i].UpdatedAt = now
	}
	recorded := slices.Clone(plan)
	err = s.update(ctx, sess, func(cur *Session) {
		cur.Endpoint = plan[0].Endpoint
		cur.Containers = recorded
		cur.ObservedState = SessionRunning
		cur.LastObservedAt = &now
		cur.ClaimedBy, cur.ClaimedAt = "", nil
	})
	if err != nil {
		s.removeContainers(ctx, sess.ID, ids, "remove container of a start given up")
		return nil, notReady(sandboxID, err)
	}
	_ = s.store.Lockers().Touch(ctx, locker.ID, now)
	sess.ContainerID, sess.Endpoint, sess.ObservedState = ids[0], plan[0].Endpoint, SessionRunning
	sess.Containers = slices.Clone(plan)
	return sess, nil
}

// containerPlan returns the profile's containers as a session records them
// before any exists.
func containerPlan(p *Profile, now time.Time) []SessionContainer {
	list := p.ContainerList()
	plan := make([]SessionContainer, len(list))
	for i, c := range list {
		plan[i] = SessionContainer{
			Name: c.Name, RuntimeType: c.RuntimeType, Port: RuntimePortOrDefault(c.Port),
			Capabilities: slices.Clone(c.Capabilities), CreatedAt: now, UpdatedAt: now,
		}
	}
	return plan
}

// launch creates the containers of plan (base.Profile's, in order) with
// base's ids, handing the ids created so far to created after each so that
// they are recorded before the next step; starts them, the network owner
// first; waits for every runtime; and, in a session with a browser, checks
// that each runtime wants the token. It fills in plan's container ids and
// endpoints, and returns the ids created, on failure too: the caller
// removes them. A failed create or start is internal_error, created's
// error is returned as is, a runtime that reported it failed is
// internal_error naming it, and any other readiness failure
// session_not_ready.
func (s *SandboxService) launch(ctx context.Context, base ContainerSpec, plan []SessionContainer,
	created func(ids []string) error) ([]string, error) {
	list := base.Profile.ContainerList()
	ids := make([]string, 0, len(list))
	for i := range list {
		spec := base
		spec.Container = &list[i]
		if i > 0 {
			spec.NetworkOwner = ids[0]
		}
		cid, err := s.runtime.CreateContainer(ctx, spec)
		if err != nil {
			s.opts.Metrics.RuntimeError("create_container")
			return ids, Wrap(err, CodeInternal, "create runtime container")
		}
		ids = append(ids, cid)
		plan[i].ContainerID = cid
		if err := created(ids); err != nil {
			return ids, err
		}
	}
	// Only the runtime's start calls are sequential: the others need their
	// network owner running, and its /workspace copy-up happens first.
	for i := range list {
		ep, err := s.runtime.StartContainer(ctx, ids[i], plan[i].Port)
		if err != nil {
			s.opts.Metrics.RuntimeError("start_container")
			return ids, Wrap(err, CodeInternal, "start runtime container")
		}
		plan[i].Endpoint = ep
	}
	if err := s.waitAllReady(ctx, &Session{ID: base.SessionID}, plan); err != nil {
		var failed *RuntimeFailedError
		if errors.As(err, &failed) {
			return ids, err // internal_error naming the runtime
		}
		return ids, notReady(base.SandboxID, err)
	}
	if base.Profile.HasRuntimeType(RuntimeTypeBrowser) {
		// A page in the browser can reach every runtime of the session on
		// localhost: each must check the token (browser.md §6).
		for _, c := range plan {
			if _, err := s.runtimeCapabilitiesOf(ctx, c.RuntimeType, Endpoint{URL: c.Endpoint, Token: base.RuntimeToken}); err != nil {
				s.forgetMeta((&Session{Containers: plan}).Endpoints()...)
				return ids, Wrap(err, CodeInternal, fmt.Sprintf("runtime %s of the session", c.Name))
			}
		}
	}
	return ids, nil
}

// removeContainers force-removes containers of one session, the network
// owner (the first) last; failures are logged as what: GC's orphan task
// or the next start removes what is left.
func (s *SandboxService) removeContainers(ctx context.Context, sessionID string, ids []string, what string) {
	ctx = context.WithoutCancel(ctx)
	for i := len(ids) - 1; i >= 0; i-- {
		if err := s.runtime.RemoveContainer(ctx, ids[i]); err != nil {
			s.opts.Metrics.RuntimeError("remove_container")
			s.log.WarnContext(ctx, what, "session_id", sessionID, "container_id", ids[i], "err", err)
		}
	}
}

// update applies fn to the session if it is still this start's: wanted
// running and claimed by this instance. Otherwise (stopped or deleted
// meanwhile) it returns session_not_ready and the caller discards its work.
func (s *SandboxService) update(ctx context.Context, sess *Session, fn func(*Session)) error {
	return s.store.InTx(ctx, func(tx Store) error {
		if _, err := tx.Sandboxes().GetForUpdate(ctx, sess.SandboxID); err != nil {
			return err
		}
		cur, err := tx.Sessions().Get(ctx, sess.ID)
		if err != nil {
			return err
		}
		if !cur.Active() || cur.ClaimedBy != s.opts.InstanceID || cur.ObservedState != SessionStarting {
			return Errorf(CodeSessionNotReady, "session %s was stopped while starting", sess.ID)
		}
		fn(cur)
		cur.UpdatedAt = s.clock.Now()
		return tx.Sessions().Save(ctx, cur)
	})
}

// recordFailure removes the containers of a failed start and marks the
// session failed, so the next call retries with new containers.
func (s *SandboxService) recordFailure(ctx context.Context, sandboxID string, sess *Session, ids []string) {
	s.removeContainers(ctx, sess.ID, ids, "remove container of failed start")
	now := s.clock.Now()
	err := s.update(ctx, sess, func(cur *Session) {
		cur.ContainerID, cur.Endpoint, cur.Containers = "", "", nil
		cur.ObservedState = SessionFailed
		cur.LastObservedAt = &now
		cur.ClaimedBy, cur.ClaimedAt = "", nil
	})
	if err != nil && CodeOf(err) != CodeSessionNotReady {
		s.log.WarnContext(ctx, "record failed start", "sandbox_id", sandboxID, "session_id", sess.ID, "err", err)
	}
}

// waitAllReady waits for every container's runtime to answer /health, in
// parallel (browser.md §1.4): nil once all have. The first that fails
// ends the wait for the others: a *RuntimeFailedError becomes an
// internal_error naming the container and carrying the runtime's message.
func (s *SandboxService) waitAllReady(ctx context.Context, sess *Session, plan []SessionContainer) error {
	if len(plan) == 1 {
		return s.readyError(plan[0], s.waitReady(ctx, s.metaClient(plan[0].RuntimeType), plan[0].Endpoint))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(plan))
	for _, c := range plan {
		go func() {
			err := s.readyError(c, s.waitReady(ctx, s.metaClient(c.RuntimeType), c.Endpoint))
			if err != nil {
				cancel() // the session fails anyway: stop polling the others
			}
			errs <- err
		}()
	}
	var first error
	for range plan {
		if err := <-errs; err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	if first != nil {
		s.log.InfoContext(ctx, "runtime did not become ready", "session_id", sess.ID, "err", first)
	}
	return first
}

// readyError names the container in a readiness failure; a runtime that
// reported it failed is internal_error with its message.
func (s *SandboxService) readyError(c SessionContainer, err error) error {
	var failed *RuntimeFailedError
	if errors.As(err, &failed) {
		return Wrap(err, CodeInternal, fmt.Sprintf("Runtime %s failed to start: %s", c.Name, failed.Message))
	}
	return err
}

// waitReady polls the runtime's /health: first at once, then after 0.5 s,
// then every 1 s, each probe bounded by ProbeTimeout, for ReadinessTimeout
// in all (lifecycle.md §5.4). A fresh Ship answers within a few
// milliseconds of its port opening, so Bay probes faster than the
// reference during the first second (every 25 ms) and then backs off. A
// runtime that reports it failed ends the wait at once.
func (s *SandboxService) waitReady(ctx context.Context, client RuntimeMeta, endpoint string) error {
	start := time.Now()
	delay := 25 * time.Millisecond
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, s.opts.ProbeTimeout)
		last = client.Health(pctx, endpoint)
		cancel()
		if last == nil {
			return nil
		}
		var failed *RuntimeFailedError
		if errors.As(last, &failed) || time.Since(start) > s.opts.ReadinessTimeout {
			return last
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		if time.Since(start) > time.Second {
			delay = min(delay*2, time.Second)
		}
	}
}

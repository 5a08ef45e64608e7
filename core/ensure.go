package core

import (
	"context"
	"time"
)

// startDecision is what the claim transaction decided for a caller.
type startDecision int

const (
	decideReady startDecision = iota // the session is running: use it
	decideStart                      // this caller claimed the start: do it
	decideWait                       // another caller is starting it: wait
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
		sb.IdleExpiresAt = &idle
		sb.LastActiveAt = now
		sb.UpdatedAt = now
		out = sess
		return tx.Sandboxes().Save(ctx, sb)
	})
	return decision, out, locker, p, err
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

// start creates and starts the claimed session's container, waits for its
// runtime to answer, and records the outcome.
func (s *SandboxService) start(ctx context.Context, sandboxID string, sess *Session, locker *Locker, p *Profile, busy time.Duration) (_ *Session, err error) {
	began := time.Now()
	defer func() { s.opts.Metrics.SessionStart(time.Since(began), err) }()
	// The start outlives a cancelled request: other callers wait on it.
	ctx = context.WithoutCancel(ctx)
	if sess.ContainerID != "" {
		// Leftover of an abandoned start or a failed one.
		s.forgetMeta(sess.Endpoint)
		if err := s.runtime.RemoveContainer(ctx, sess.ContainerID); err != nil {
			s.log.WarnContext(ctx, "remove leftover container", "session_id", sess.ID, "container_id", sess.ContainerID, "err", err)
		}
		sess.ContainerID, sess.Endpoint = "", ""
	}
	// A locker belongs to the owner of the sandboxes that mount it.
	cid, err := s.runtime.CreateContainer(ctx, ContainerSpec{
		SessionID: sess.ID, SandboxID: sandboxID, LockerID: locker.ID, Owner: locker.Owner,
		InstanceID: s.opts.InstanceID, Profile: p, RuntimeToken: sess.RuntimeToken,
	})
	if err != nil {
		s.opts.Metrics.RuntimeError("create_container")
		s.recordFailure(ctx, sandboxID, sess, "")
		return nil, Wrap(err, CodeInternal, "create runtime container")
	}
	if err := s.update(ctx, sess, func(cur *Session) { cur.ContainerID = cid }); err != nil {
		_ = s.runtime.RemoveContainer(ctx, cid)
		return nil, notReady(sandboxID, err)
	}
	ep, err := s.runtime.StartContainer(ctx, cid, p.RuntimePort)
	if err != nil {
		s.opts.Metrics.RuntimeError("start_container")
		s.recordFailure(ctx, sandboxID, sess, cid)
		return nil, Wrap(err, CodeInternal, "start runtime container")
	}
	if err := s.waitReady(ctx, ep); err != nil {
		s.recordFailure(ctx, sandboxID, sess, cid)
		return nil, notReady(sandboxID, err)
	}
	now := s.clock.Now()
	err = s.update(ctx, sess, func(cur *Session) {
		cur.Endpoint = ep
		cur.ObservedState = SessionRunning
		cur.LastObservedAt = &now
		cur.ClaimedBy, cur.ClaimedAt = "", nil
	})
	if err != nil {
		_ = s.runtime.RemoveContainer(ctx, cid)
		return nil, notReady(sandboxID, err)
	}
	_ = s.store.Lockers().Touch(ctx, locker.ID, now)
	sess.ContainerID, sess.Endpoint, sess.ObservedState = cid, ep, SessionRunning
	return sess, nil
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

// recordFailure removes the container of a failed start and marks the
// session failed, so the next call retries with a new container.
func (s *SandboxService) recordFailure(ctx context.Context, sandboxID string, sess *Session, containerID string) {
	if containerID != "" {
		if err := s.runtime.RemoveContainer(ctx, containerID); err != nil {
			s.log.WarnContext(ctx, "remove container of failed start", "session_id", sess.ID, "container_id", containerID, "err", err)
		}
	}
	now := s.clock.Now()
	err := s.update(ctx, sess, func(cur *Session) {
		cur.ContainerID, cur.Endpoint = "", ""
		cur.ObservedState = SessionFailed
		cur.LastObservedAt = &now
		cur.ClaimedBy, cur.ClaimedAt = "", nil
	})
	if err != nil && CodeOf(err) != CodeSessionNotReady {
		s.log.WarnContext(ctx, "record failed start", "sandbox_id", sandboxID, "session_id", sess.ID, "err", err)
	}
}

// waitReady polls the runtime's /health: first at once, then after 0.5 s,
// then every 1 s, each probe bounded by ProbeTimeout, for ReadinessTimeout
// in all (lifecycle.md §5.4). A fresh Ship answers within a few
// milliseconds of its port opening, so Bay probes faster than the
// reference during the first second (every 25 ms) and then backs off.
func (s *SandboxService) waitReady(ctx context.Context, endpoint string) error {
	start := time.Now()
	delay := 25 * time.Millisecond
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, s.opts.ProbeTimeout)
		last = s.ship.Health(pctx, endpoint)
		cancel()
		if last == nil {
			return nil
		}
		if time.Since(start) > s.opts.ReadinessTimeout {
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

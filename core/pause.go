package core

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// A profile's idle_pause freezes the containers of a sandbox idle that long
// (the runtime's pause: processes stopped, memory kept, CPU given back);
// the next call thaws them and finds the interpreter as it was. The idle
// timeout still reclaims a paused sandbox's containers.
//
// A sandbox's last activity is its idle deadline less the idle timeout:
// every call's claim sets the deadline to now + max(idle timeout, busy), a
// call that outlasted the idle timeout or idle_pause moves it again when it
// ends, and open terminals re-arm it. So a sandbox is due for a pause when
// idle_expires_at - idle_timeout + idle_pause <= now. A call still in
// flight that started longer ago than idle_pause is kept from its pause by
// this process's count of calls in flight (and open terminals), and
// across instances by the execution rows still running; a long call of
// another kind served by another instance is not seen.
//
// Pausing runs in three steps, none holding a transaction across the
// runtime: (a) under the sandbox's row lock, check again that it is due
// and mark the session paused; (b) pause its containers; (c) under the
// lock again, read the session: a call that resumed it meanwhile (the claim
// marks it running, commits, then thaws the containers) may have thawed
// them before (b) froze them, so they are thawed again. A failed (b) puts
// the session back to running and thaws what it froze.

// PauseInterval returns how often PauseLoop should look for sandboxes due
// for a pause with these profiles: a quarter of the shortest idle_pause,
// between 250 ms and 5 s; zero when no profile pauses.
func PauseInterval(profiles []Profile) time.Duration {
	var d time.Duration
	for _, p := range profiles {
		if p.IdlePause > 0 && (d == 0 || p.IdlePause/4 < d) {
			d = p.IdlePause / 4
		}
	}
	if d == 0 {
		return 0
	}
	return min(max(d, 250*time.Millisecond), 5*time.Second)
}

// repairEvery is how often PauseLoop looks for containers paused under a
// session that is not (RepairPaused).
const repairEvery = 5 * time.Minute

// PauseLoop pauses the sandboxes due for it every interval until ctx ends.
// It first, and every few minutes after, thaws the containers a crash left
// paused under a session recorded running (RepairPaused). Failures are
// logged once per round.
func (s *SandboxService) PauseLoop(ctx context.Context, every time.Duration) {
	log := s.log.With("component", "pause")
	repair := func() {
		if n, err := s.RepairPaused(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "repair paused containers", "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, "thawed containers paused under a running session", "count", n)
		}
	}
	repair()
	last := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.PauseIdle(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "pause idle sandboxes", "err", err)
		}
		if time.Since(last) >= repairEvery {
			repair()
			last = time.Now()
		}
	}
}

// PauseIdle pauses the runtime of every sandbox due for it now (its
// profile's idle_pause has passed since its last activity) and returns how
// many it froze (a call may have resumed some of them already). A sandbox
// that fails is left running and retried on the next round; the errors
// are joined. Once the runtime declined to pause (ErrPauseUnsupported) it
// does nothing.
func (s *SandboxService) PauseIdle(ctx context.Context) (int, error) {
	if s.pauseUnsupported.Load() {
		return 0, nil
	}
	var (
		paused int
		errs   []error
	)
	for i := range s.profiles {
		p := &s.profiles[i]
		if p.IdlePause <= 0 {
			continue
		}
		ids, err := s.store.Sandboxes().ListPauseDue(ctx, p.ID, s.pauseBefore(p, s.clock.Now()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range ids {
			if s.inUse(id) {
				continue
			}
			done, err := s.pause(ctx, id, p)
			if err != nil {
				errs = append(errs, Wrap(err, CodeOf(err), "pause sandbox "+id))
				if errors.Is(err, ErrPauseUnsupported) {
					s.pauseUnsupported.Store(true)
					s.log.WarnContext(ctx, "the runtime cannot pause containers: idle_pause is off", "err", err)
					return paused, errors.Join(errs...)
				}
				continue
			}
			if done {
				paused++
			}
		}
	}
	return paused, errors.Join(errs...)
}

// pauseBefore is the latest idle deadline a sandbox of p may have at now
// and be due for a pause: its last activity (the deadline less the idle
// timeout) is idle_pause ago or more.
func (s *SandboxService) pauseBefore(p *Profile, now time.Time) time.Time {
	return now.Add(p.IdleTimeout - p.IdlePause)
}

// inUse reports whether this process has a call in flight or a terminal
// open on the sandbox.
func (s *SandboxService) inUse(sandboxID string) bool {
	return s.calls.busy(sandboxID) || s.terminals.has(sandboxID)
}

// pause runs the three steps of a pause on one sandbox and reports whether
// it froze its containers (a call may have thawed them again since).
func (s *SandboxService) pause(ctx context.Context, id string, p *Profile) (bool, error) {
	ctx = context.WithoutCancel(ctx) // half a pause is worse than none
	var sess *Session
	err := s.store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if sb.DeletedAt != nil || sb.ProfileID != p.ID || sb.CurrentSessionID == "" || sb.Expired(now) ||
			sb.IdleExpiresAt == nil || sb.IdleExpiresAt.After(s.pauseBefore(p, now)) || s.inUse(id) {
			return nil
		}
		cur, err := tx.Sessions().Get(ctx, sb.CurrentSessionID)
		if err != nil {
			return err
		}
		if !cur.Active() || cur.ObservedState != SessionRunning || len(cur.ContainerIDs()) == 0 {
			return nil
		}
		// A streamed or async execution (or a sync one served by another
		// instance) is still running in the sandbox.
		running, err := tx.Executions().Count(ctx, sb.Owner, sb.ID, ExecutionFilter{Status: ExecRunning})
		if err != nil || running > 0 {
			return err
		}
		cur.ObservedState = SessionPaused
		cur.LastObservedAt = &now
		cur.UpdatedAt = now
		if err := tx.Sessions().Save(ctx, cur); err != nil {
			return err
		}
		sess = cur
		return nil
	})
	if err != nil || sess == nil {
		return false, err
	}

	// The others before their network owner, which holds the namespace.
	ids := sess.ContainerIDs()
	var frozen []string
	var pauseErr error
	for i := len(ids) - 1; i >= 0; i-- {
		if s.inUse(id) {
			// A call came in after (a): give the pause up rather than
			// freeze the runtime under it.
			pauseErr = errPauseGivenUp
			break
		}
		if pauseErr = s.runtime.PauseContainer(ctx, ids[i]); pauseErr != nil {
			s.opts.Metrics.RuntimeError("pause_container")
			break
		}
		frozen = append(frozen, ids[i])
	}

	thaw := frozen
	if pauseErr == nil {
		thaw = nil
	}
	overtaken := false // resumed, stopped or destroyed since (a)
	err = s.store.InTx(ctx, func(tx Store) error {
		if _, err := tx.Sandboxes().GetForUpdate(ctx, id); err != nil {
			return err
		}
		cur, err := tx.Sessions().Get(ctx, sess.ID)
		if CodeOf(err) == CodeNotFound {
			overtaken = true // destroyed meanwhile, with its containers
			return nil
		}
		if err != nil {
			return err
		}
		if cur.ObservedState != SessionPaused {
			// Resumed (or stopped) meanwhile: its thaw may have come before
			// the freeze.
			overtaken = true
			thaw = frozen
			return nil
		}
		if pauseErr == nil {
			return nil
		}
		now := s.clock.Now()
		cur.ObservedState = SessionRunning
		cur.LastObservedAt = &now
		cur.UpdatedAt = now
		return tx.Sessions().Save(ctx, cur)
	})
	s.thaw(ctx, sess.ID, thaw)
	switch {
	case errors.Is(pauseErr, errPauseGivenUp),
		pauseErr != nil && overtaken && !errors.Is(pauseErr, ErrPauseUnsupported):
		// A call or a stop got there first: nothing failed that matters
		// (a container removed under the freeze, say).
		return false, err
	case pauseErr != nil:
		return false, pauseErr
	}
	// Frozen, even if a call thawed it again at once: it counts.
	s.opts.Metrics.SessionPaused()
	return true, err
}

// errPauseGivenUp stops a pause whose sandbox a call of this process
// started to use meanwhile.
var errPauseGivenUp = errors.New("pause given up: the sandbox is in use")

// thaw unpauses containers of one session, the network owner first (ids
// are in the order they were frozen: reversed). Failures are logged: a
// missing container is the business of whoever removed it.
func (s *SandboxService) thaw(ctx context.Context, sessionID string, ids []string) {
	for i := len(ids) - 1; i >= 0; i-- {
		if err := s.runtime.UnpauseContainer(ctx, ids[i]); err != nil && CodeOf(err) != CodeNotFound {
			s.opts.Metrics.RuntimeError("unpause_container")
			s.log.WarnContext(ctx, "unpause container", "session_id", sessionID, "container_id", ids[i], "err", err)
		}
	}
}

// resume thaws the containers of a session the claim has just marked
// running again (decideResume), the network owner first. A container gone
// meanwhile resets the session so that the next claim starts new ones
// (resumed false); any other failure marks the session paused again, so
// that the next call retries the thaw, and is returned.
func (s *SandboxService) resume(ctx context.Context, sandboxID string, sess *Session) (resumed bool, err error) {
	began := time.Now()
	ctx = context.WithoutCancel(ctx) // a half-thawed session serves no one
	for _, cid := range sess.ContainerIDs() {
		err := s.runtime.UnpauseContainer(ctx, cid)
		if err == nil {
			continue
		}
		s.opts.Metrics.RuntimeError("unpause_container")
		if CodeOf(err) == CodeNotFound {
			s.log.InfoContext(ctx, "container of a paused session was gone; starting new ones", "session_id", sess.ID, "container_id", cid)
			s.forgetMeta(sess.Endpoints()...)
			s.removeContainers(ctx, sess.ID, sess.ContainerIDs(), "remove container of a dead session")
			if rerr := s.resetDead(ctx, sess); rerr != nil && CodeOf(rerr) != CodeNotFound {
				return false, rerr
			}
			return false, nil
		}
		now := s.clock.Now()
		rerr := s.store.InTx(ctx, func(tx Store) error {
			if _, err := tx.Sandboxes().GetForUpdate(ctx, sandboxID); err != nil {
				return err
			}
			cur, err := tx.Sessions().Get(ctx, sess.ID)
			if err != nil || cur.ObservedState != SessionRunning || !slices.Equal(cur.ContainerIDs(), sess.ContainerIDs()) {
				return err
			}
			cur.ObservedState = SessionPaused
			cur.LastObservedAt = &now
			cur.UpdatedAt = now
			return tx.Sessions().Save(ctx, cur)
		})
		if rerr != nil && CodeOf(rerr) != CodeNotFound {
			s.log.WarnContext(ctx, "mark session paused again", "session_id", sess.ID, "err", rerr)
		}
		return false, Wrap(err, CodeInternal, "resume paused runtime")
	}
	s.opts.Metrics.SessionResumed(time.Since(began))
	return true, nil
}

// RepairPaused thaws every container Bay made that is paused while its
// session is not recorded paused: left so by a crash between a resume's
// commit and its thaw, or of a pause racing a resume. It returns how many
// it thawed. Containers of sessions that no longer exist are left to
// orphan GC.
func (s *SandboxService) RepairPaused(ctx context.Context) (int, error) {
	list, err := s.runtime.ListContainers(ctx, map[string]string{LabelManaged: "true"})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, c := range list {
		if c.State != ContainerPaused || c.Labels[LabelSessionID] == "" {
			continue
		}
		sess, err := s.store.Sessions().Get(ctx, c.Labels[LabelSessionID])
		if CodeOf(err) == CodeNotFound {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sess.ObservedState == SessionPaused {
			continue
		}
		if err := s.runtime.UnpauseContainer(ctx, c.ID); err != nil && CodeOf(err) != CodeNotFound {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// callCounter counts this process's capability calls in flight per
// sandbox: a sandbox with one is never paused. The zero value is ready.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// enter counts a call on the sandbox until the returned function runs.
func (c *callCounter) enter(sandboxID string) func() {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[sandboxID]++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.n[sandboxID]--; c.n[sandboxID] <= 0 {
				delete(c.n, sandboxID)
			}
			c.mu.Unlock()
		})
	}
}

// busy reports whether a call on the sandbox is in flight.
func (c *callCounter) busy(sandboxID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[sandboxID] > 0
}

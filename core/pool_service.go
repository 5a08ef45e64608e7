package core

import (
	"context"
	"errors"
	"slices"
	"time"
)

// PoolMetrics receives the warm pool's events.
type PoolMetrics interface {
	// PoolClaim records a create of the profile served from the pool
	// (hit) or not (an empty pool).
	PoolClaim(profile string, hit bool)
	// PoolRefill records the start of one entry, from its reservation to
	// its kernel answering (err nil) or failing.
	PoolRefill(profile string, d time.Duration, err error)
}

type noPoolMetrics struct{}

func (noPoolMetrics) PoolClaim(string, bool)                  {}
func (noPoolMetrics) PoolRefill(string, time.Duration, error) {}

// poolRetries bounds the entries one create tries before it falls back to
// the lazy path: each found dead is dropped.
const poolRetries = 3

// warmTimeout bounds the kernel warm-up of a new entry, in seconds.
const warmTimeout = 120

// errEntryDead rolls back a claim whose entry's containers are gone.
var errEntryDead = errors.New("pool entry's runtime is gone")

// errNoSessionRoom rolls back a claim that the owner's running-session
// quota has no room for: the sandbox is then created without a runtime.
var errNoSessionRoom = errors.New("no room for a running session")

// createFromPool creates the sandbox sb (its id, locker and session taken
// from a claimed entry) with a runtime already running, or reports false
// when the pool of p has no entry it can hand out; sb carries the
// caller's owner, profile, TTL and times. Quotas hold as for a lazy
// create; an entry counts against its owner only once claimed.
func (s *SandboxService) createFromPool(ctx context.Context, p *Profile, sb *Sandbox) (*SandboxInfo, bool, error) {
	key := s.poolKeys[p.ID]
	quota := s.opts.Quotas.For(sb.Owner)
	for range poolRetries {
		var entry *PoolEntry
		now := s.clock.Now()
		err := s.store.InTx(ctx, func(tx Store) error {
			err := underOwnerLock(ctx, tx, quota, sb.Owner, func() error {
				if err := checkSandboxQuota(ctx, tx, quota, sb.Owner, s.opts.DefaultLockerSizeMB); err != nil {
					return err
				}
				if checkSessionQuota(ctx, tx, quota, sb.Owner) != nil {
					return errNoSessionRoom
				}
				return nil
			})
			if err != nil {
				return err
			}
			if entry, err = tx.WarmPool().Claim(ctx, p.ID, key); err != nil {
				return err
			}
			// Checked with the claim held: an entry whose runtime died is
			// never handed out.
			if !s.entryRunning(ctx, entry) {
				return errEntryDead
			}
			return s.adoptEntry(ctx, tx, p, sb, entry, now)
		})
		switch {
		case err == nil:
			s.opts.PoolMetrics.PoolClaim(p.ID, true)
			s.kickPool()
			return s.info(sb, now), true, nil
		case errors.Is(err, errEntryDead):
			s.log.WarnContext(ctx, "warm pool entry's runtime is gone; dropped", "entry", entry.ID, "profile", p.ID)
			s.dropEntry(ctx, entry)
			continue
		case errors.Is(err, errNoSessionRoom):
			return nil, false, nil
		case entry == nil && CodeOf(err) == CodeNotFound:
			s.opts.PoolMetrics.PoolClaim(p.ID, false)
			s.kickPool()
			return nil, false, nil
		default:
			return nil, false, err
		}
	}
	s.opts.PoolMetrics.PoolClaim(p.ID, false)
	s.kickPool()
	return nil, false, nil
}

// adoptEntry turns a claimed entry into the sandbox sb's rows: its managed
// locker, the sandbox, and a running session whose idle deadline starts
// now.
func (s *SandboxService) adoptEntry(ctx context.Context, tx Store, p *Profile, sb *Sandbox, e *PoolEntry, now time.Time) error {
	l := &Locker{
		ID: e.LockerID, Owner: sb.Owner, Backend: LockerBackendDockerVolume, DriverRef: VolumeName(e.LockerID),
		Managed: true, ManagedBySandboxID: e.SandboxID, SizeLimitMB: s.opts.DefaultLockerSizeMB,
		CreatedAt: now, UpdatedAt: now, LastAccessedAt: now,
	}
	if err := tx.Lockers().Create(ctx, l); err != nil {
		return err
	}
	idle := now.Add(p.IdleTimeout)
	sb.ID, sb.LockerID, sb.CurrentSessionID, sb.IdleExpiresAt = e.SandboxID, e.LockerID, e.SessionID, &idle
	sb.CurrentSessionState = SessionRunning
	if err := tx.Sandboxes().Create(ctx, sb); err != nil {
		return err
	}
	containers := slices.Clone(e.Containers)
	sess := &Session{
		ID: e.SessionID, SandboxID: e.SandboxID, RuntimeType: p.RuntimeType, ProfileID: p.ID,
		ContainerID: containers[0].ContainerID, Endpoint: containers[0].Endpoint,
		DesiredState: SessionRunning, ObservedState: SessionRunning, LastObservedAt: &now,
		CreatedAt: now, UpdatedAt: now, LastActiveAt: now, RuntimeToken: e.RuntimeToken, Containers: containers,
	}
	return tx.Sessions().Insert(ctx, sess)
}

// entryRunning reports whether every container of the entry runs.
func (s *SandboxService) entryRunning(ctx context.Context, e *PoolEntry) bool {
	ids := e.ContainerIDs()
	if len(ids) == 0 || len(ids) != len(e.Containers) {
		return false
	}
	for _, id := range ids {
		st, err := s.runtime.ContainerState(ctx, id)
		if err != nil || st != ContainerRunning {
			return false
		}
	}
	return true
}

// kickPool wakes the refill loop without waiting for it.
func (s *SandboxService) kickPool() {
	select {
	case s.poolKick <- struct{}{}:
	default:
	}
}

// poolProfiles returns the profiles that keep a warm pool.
func (s *SandboxService) poolProfiles() []*Profile {
	var out []*Profile
	for i := range s.profiles {
		if s.profiles[i].WarmPool > 0 {
			out = append(out, &s.profiles[i])
		}
	}
	return out
}

// PoolLoop keeps every profile's warm pool at its size until ctx ends: it
// refills after each claim and every interval, and first drops what a
// crash or a configuration change left (ReconcilePool). With no profile
// keeping a pool it drops what an earlier configuration left, once, and
// returns.
func (s *SandboxService) PoolLoop(ctx context.Context, interval time.Duration) {
	if len(s.poolProfiles()) == 0 {
		if _, err := s.ReconcilePool(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reconcile warm pool", "err", err)
		}
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.ReconcilePool(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reconcile warm pool", "err", err)
		}
		s.fillPools(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.poolKick:
		}
	}
}

// fillPools starts entries, one at a time, until every pool is full or an
// entry fails (the next round retries).
func (s *SandboxService) fillPools(ctx context.Context) {
	for _, p := range s.poolProfiles() {
		for ctx.Err() == nil {
			started, err := s.fillOne(ctx, p)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "warm pool refill", "profile", p.ID, "err", err)
				}
				break
			}
			if !started {
				break
			}
		}
	}
}

// fillOne reserves an entry of p if its pool is short, and starts it. It
// reports whether it started one.
func (s *SandboxService) fillOne(ctx context.Context, p *Profile) (bool, error) {
	began := time.Now()
	e, err := s.reserveEntry(ctx, p)
	if err != nil || e == nil {
		return false, err
	}
	err = s.startEntry(ctx, p, e)
	s.opts.PoolMetrics.PoolRefill(p.ID, time.Since(began), err)
	if err != nil {
		// What this fill created goes first: the entry may have been
		// retired by someone else meanwhile, who did not see it.
		s.removeContainers(context.WithoutCancel(ctx), e.SessionID, e.ContainerIDs(), "remove container of a failed pool fill")
		s.dropEntry(ctx, e)
		return false, err
	}
	return true, nil
}

// reserveEntry inserts a filling entry of p when the pool of p (its
// entries of the current key, filling or ready) is short of p.WarmPool;
// nil when it is full. The count and the insert hold a lock named after
// the pool, so that instances refilling together do not overfill it.
func (s *SandboxService) reserveEntry(ctx context.Context, p *Profile) (*PoolEntry, error) {
	key := s.poolKeys[p.ID]
	var out *PoolEntry
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := tx.LockOwner(ctx, "pool:"+p.ID); err != nil {
			return err
		}
		list, err := tx.WarmPool().List(ctx)
		if err != nil {
			return err
		}
		n := 0
		for _, e := range list {
			if e.ProfileID == p.ID && e.ProfileKey == key {
				n++
			}
		}
		if n >= p.WarmPool {
			return nil
		}
		now := s.clock.Now()
		e := &PoolEntry{
			ID: s.ids.New(PoolEntryIDPrefix), ProfileID: p.ID, ProfileKey: key,
			SandboxID: s.ids.New(SandboxIDPrefix), SessionID: s.ids.New(SessionIDPrefix),
			LockerID: s.ids.New(LockerIDPrefix), RuntimeToken: NewRuntimeToken(),
			State: PoolFilling, InstanceID: s.opts.InstanceID, CreatedAt: now, UpdatedAt: now,
		}
		e.Containers = containerPlan(p, now)
		if err := tx.WarmPool().Insert(ctx, e); err != nil {
			return err
		}
		out = e
		return nil
	})
	return out, err
}

// startEntry creates the entry's volume and containers, starts them,
// waits for every runtime and warms the Python kernel, then marks the
// entry ready. Its containers and volume carry no owner until a claim.
func (s *SandboxService) startEntry(ctx context.Context, p *Profile, e *PoolEntry) error {
	spec := VolumeSpec{LockerID: e.LockerID, Managed: true}
	if s.opts.EnforceLockerSizes.Enforces(false) {
		spec.SizeLimitMB = s.opts.DefaultLockerSizeMB
	}
	if err := s.runtime.CreateVolume(ctx, spec); err != nil {
		s.opts.Metrics.RuntimeError("create_volume")
		return Wrap(err, CodeInternal, "create pool locker volume")
	}
	base := ContainerSpec{
		SessionID: e.SessionID, SandboxID: e.SandboxID, LockerID: e.LockerID,
		InstanceID: s.opts.InstanceID, Profile: p, RuntimeToken: e.RuntimeToken,
	}
	_, err := s.launch(ctx, base, e.Containers, func([]string) error {
		e.UpdatedAt = s.clock.Now()
		return s.store.WarmPool().Save(ctx, e)
	})
	if err != nil {
		return err
	}
	for _, c := range e.Containers {
		if c.RuntimeType == RuntimeTypeShip && slices.Contains(c.Capabilities, CapabilityPython) {
			ep := Endpoint{URL: c.Endpoint, Token: e.RuntimeToken}
			if err := s.ship.WarmKernel(ctx, ep, warmTimeout); err != nil {
				return Wrap(err, CodeInternal, "warm the kernel of a pool entry")
			}
		}
	}
	now := s.clock.Now()
	for i := range e.Containers {
		e.Containers[i].UpdatedAt = now
	}
	e.State, e.UpdatedAt = PoolReady, now
	return s.store.WarmPool().Save(ctx, e)
}

// dropEntry retires the entry (no claim takes it any more), removes its
// containers (found by id and by their session label) and its volume,
// then deletes its row. Only the caller that retired the entry goes on: an
// entry claimed meanwhile is a sandbox's now. When a removal fails the
// row stays, dropping, and ReconcilePool tries again later.
func (s *SandboxService) dropEntry(ctx context.Context, e *PoolEntry) {
	ctx = context.WithoutCancel(ctx)
	if e.State != PoolDropping {
		if err := s.store.WarmPool().Retire(ctx, e.ID, s.clock.Now()); err != nil {
			if CodeOf(err) != CodeNotFound {
				s.log.WarnContext(ctx, "drop warm pool entry", "entry", e.ID, "err", err)
			}
			return
		}
	}
	s.forgetMeta((&Session{Containers: e.Containers}).Endpoints()...)
	// The recorded ones (the network owner first), then those found only
	// by label (a crash before their id was recorded); removeContainers
	// goes from the end, so the owner is removed last.
	ids := e.ContainerIDs()
	found, err := s.runtime.ListContainers(ctx, map[string]string{LabelSessionID: e.SessionID})
	if err != nil {
		s.log.WarnContext(ctx, "list containers of a dropped pool entry", "entry", e.ID, "err", err)
		return
	}
	for _, c := range found {
		if !slices.Contains(ids, c.ID) {
			ids = append(ids, c.ID)
		}
	}
	s.removeContainers(ctx, e.SessionID, ids, "remove container of a dropped pool entry")
	// A removal another caller started (GC's orphan task) may still hold
	// the volume for a moment.
	for attempt := 0; ; attempt++ {
		err := s.runtime.DeleteVolume(ctx, e.LockerID)
		if err == nil {
			break
		}
		if CodeOf(err) != CodeConflict || attempt == 20 {
			s.opts.Metrics.RuntimeError("delete_volume")
			s.log.WarnContext(ctx, "remove volume of a dropped pool entry; retried later", "locker_id", e.LockerID, "err", err)
			return
		}
		_ = sleep(ctx, 250*time.Millisecond)
	}
	if err := s.store.WarmPool().Delete(ctx, e.ID); err != nil && CodeOf(err) != CodeNotFound {
		s.log.WarnContext(ctx, "delete dropped warm pool entry", "entry", e.ID, "err", err)
	}
}

// ReconcilePool drops the entries nothing may hand out: those of a profile
// no longer configured or configured otherwise; those this instance was
// filling before it (re)started, or anyone's filling longer than a start
// can take; and ready ones whose runtime is gone. It finishes the drops
// left half done. It returns how many it dropped.
func (s *SandboxService) ReconcilePool(ctx context.Context) (int, error) {
	list, err := s.store.WarmPool().List(ctx)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	dropped := 0
	for _, e := range list {
		if !s.entryStale(ctx, e, now) {
			continue
		}
		s.dropEntry(ctx, e)
		dropped++
	}
	return dropped, nil
}

// dropRetryAfter is how long a dropping entry is left to the caller that
// retired it before ReconcilePool finishes its removal.
const dropRetryAfter = time.Minute

func (s *SandboxService) entryStale(ctx context.Context, e *PoolEntry, now time.Time) bool {
	p := s.profile(e.ProfileID)
	switch {
	case e.State == PoolDropping:
		return now.Sub(e.UpdatedAt) > dropRetryAfter || (e.InstanceID == s.opts.InstanceID && e.UpdatedAt.Before(s.opts.StartedAt))
	case p == nil || p.WarmPool == 0 || s.poolKeys[p.ID] != e.ProfileKey:
		return true
	case e.State == PoolFilling:
		if e.InstanceID == s.opts.InstanceID && e.CreatedAt.Before(s.opts.StartedAt) {
			return true
		}
		return now.Sub(e.CreatedAt) > s.opts.ReadinessTimeout+claimMargin
	default:
		return !s.entryRunning(ctx, e)
	}
}

// PoolSizes counts the ready entries of every profile that keeps a pool.
func (s *SandboxService) PoolSizes(ctx context.Context) (map[string]int64, error) {
	list, err := s.store.WarmPool().List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, p := range s.poolProfiles() {
		out[p.ID] = 0
	}
	for _, e := range list {
		if _, ok := out[e.ProfileID]; ok && e.State == PoolReady && e.ProfileKey == s.poolKeys[e.ProfileID] {
			out[e.ProfileID]++
		}
	}
	return out, nil
}

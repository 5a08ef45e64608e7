package core

import (
	"context"
	"fmt"
)

// Quota bounds what one owner may hold at a time; zero means no bound.
type Quota struct {
	// MaxSandboxes counts live (not deleted) sandboxes.
	MaxSandboxes int64
	// MaxRunningSessions counts sandboxes whose compute is wanted running.
	MaxRunningSessions int64
	// MaxLockers counts lockers, managed and external.
	MaxLockers int64
	// MaxLockerMB bounds the sum of the owner's lockers' size limits.
	MaxLockerMB int64
}

// limited reports whether the quota bounds anything.
func (q Quota) limited() bool { return q != Quota{} }

// Quotas gives every owner a quota: its own if configured, else Default.
type Quotas struct {
	Default Quota
	// Owners are complete quotas (unset fields already taken from Default).
	Owners map[string]Quota
}

// For returns owner's quota.
func (q Quotas) For(owner string) Quota {
	if o, ok := q.Owners[owner]; ok {
		return o
	}
	return q.Default
}

// Quota limit names, as reported in details.limit (bay-api.md §3.2).
const (
	LimitSandboxes       = "max_sandboxes"
	LimitRunningSessions = "max_running_sessions"
	LimitLockers         = "max_lockers"
	LimitLockerMB        = "max_locker_mb"
)

// underOwnerLock runs check holding tx's lock on owner, when q bounds
// anything; otherwise it does nothing, and an unbounded owner's creates
// serialise on nothing.
func underOwnerLock(ctx context.Context, tx Store, q Quota, owner string, check func() error) error {
	if !q.limited() {
		return nil
	}
	if err := tx.LockOwner(ctx, owner); err != nil {
		return err
	}
	return check()
}

// quotaExceeded is the 429 error of a limit that adding would pass.
func quotaExceeded(limit string, max, current int64) error {
	return (&Error{Code: CodeQuotaExceeded, Message: fmt.Sprintf("Quota exceeded: %s is %d and %d are in use", limit, max, current)}).
		WithDetails(map[string]any{"limit": limit, "max": max, "current": current})
}

// checkSandboxQuota fails if owner cannot have one more sandbox (and one
// more locker of addMB, when the sandbox brings its managed locker; addMB
// is negative when it does not). The answer holds only while tx holds
// LockOwner(owner).
func checkSandboxQuota(ctx context.Context, tx Store, q Quota, owner string, addMB int64) error {
	if q.MaxSandboxes > 0 {
		n, err := tx.Sandboxes().CountByOwner(ctx, owner)
		if err != nil {
			return err
		}
		if n >= q.MaxSandboxes {
			return quotaExceeded(LimitSandboxes, q.MaxSandboxes, n)
		}
	}
	if addMB >= 0 {
		return checkLockerQuota(ctx, tx, q, owner, addMB)
	}
	return nil
}

// checkLockerQuota fails if owner cannot have one more locker of sizeMB.
// The answer holds only while tx holds LockOwner(owner).
func checkLockerQuota(ctx context.Context, tx Store, q Quota, owner string, sizeMB int64) error {
	if q.MaxLockers <= 0 && q.MaxLockerMB <= 0 {
		return nil
	}
	u, err := tx.Lockers().UsageByOwner(ctx, owner)
	if err != nil {
		return err
	}
	if q.MaxLockers > 0 && u.Count >= q.MaxLockers {
		return quotaExceeded(LimitLockers, q.MaxLockers, u.Count)
	}
	if q.MaxLockerMB > 0 && u.TotalMB+sizeMB > q.MaxLockerMB {
		return quotaExceeded(LimitLockerMB, q.MaxLockerMB, u.TotalMB)
	}
	return nil
}

// checkSessionQuota fails if owner cannot start one more session. The
// answer holds only while tx holds LockOwner(owner).
func checkSessionQuota(ctx context.Context, tx Store, q Quota, owner string) error {
	if q.MaxRunningSessions <= 0 {
		return nil
	}
	n, err := tx.Sessions().CountActiveByOwner(ctx, owner)
	if err != nil {
		return err
	}
	if n >= q.MaxRunningSessions {
		return quotaExceeded(LimitRunningSessions, q.MaxRunningSessions, n)
	}
	return nil
}

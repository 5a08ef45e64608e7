package core

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// GCOptions configures the garbage collector.
type GCOptions struct {
	Store     Store
	Runtime   Runtime
	Clock     Clock
	Sandboxes *SandboxService
	// InstanceID labels this process's containers; orphan-container GC
	// only ever lists containers carrying it.
	InstanceID string
	// Enabled runs the background loop; manual runs work regardless.
	Enabled      bool
	RunOnStartup bool
	Interval     time.Duration
	// Tasks maps each task name to whether it runs.
	Tasks  map[string]bool
	Logger *slog.Logger
	// Observe, when set, is told the report of every cycle.
	Observe func(*GCReport)
	// Idempotency, when set, has its expired keys purged by Loop every
	// PurgeEvery (default 10 minutes), whether or not the GC loop is
	// enabled: nothing else removes them.
	Idempotency *IdempotencyService
	PurgeEvery  time.Duration
	// History bounds execution rows by age and count per sandbox.
	History HistoryRetention
	// StartedAt is when this process started: its rows still running from
	// before are lost.
	StartedAt time.Time
}

// HistoryRetention bounds the execution rows kept (history.retention_hours,
// history.max_per_sandbox).
type HistoryRetention struct {
	MaxAge        time.Duration
	MaxPerSandbox int
}

// GC reclaims what is idle, expired or orphaned (lifecycle.md §12). One
// cycle runs at a time per process; across processes the per-sandbox row
// locks and double checks keep instances from doing the same work twice.
type GC struct {
	o     GCOptions
	log   *slog.Logger
	cycle sync.Mutex
	state sync.Mutex
	busy  bool
}

// GCTasks lists the tasks in the order a cycle runs them.
var GCTasks = []string{GCIdleSession, GCExpiredSandbox, GCOrphanLocker, GCOrphanContainer, GCExecutionHistory}

// NewGC returns a GC.
func NewGC(o GCOptions) *GC {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &GC{o: o, log: o.Logger}
}

// Status describes the scheduler.
func (g *GC) Status() GCStatus {
	g.state.Lock()
	busy := g.busy
	g.state.Unlock()
	tasks := map[string]bool{}
	for _, t := range GCTasks {
		tasks[t] = g.o.Tasks[t]
	}
	return GCStatus{
		Enabled: g.o.Enabled, IsRunning: busy, InstanceID: g.o.InstanceID,
		IntervalSeconds: int(g.o.Interval / time.Second), Tasks: tasks,
	}
}

// Run runs one cycle now and returns its report, keeping only the results
// of the named tasks when tasks is not nil. Errors: gc_running when a cycle
// is in progress in this process.
func (g *GC) Run(ctx context.Context, tasks []string) (*GCReport, error) {
	if !g.cycle.TryLock() {
		return nil, Errorf(CodeGCRunning, "GC is already running. Please wait for the current cycle to complete.")
	}
	defer g.cycle.Unlock()
	// A list selects which tasks run, not only which results are shown
	// (bay-api.md §7.6.1): asking for orphan_container alone must not
	// reclaim idle sessions as a side effect.
	var only map[string]bool
	if tasks != nil {
		only = make(map[string]bool, len(tasks))
		for _, t := range tasks {
			only[t] = true
		}
	}
	return g.runLocked(ctx, only), nil
}

// RunCycle runs one cycle, waiting for a running one to finish first.
func (g *GC) RunCycle(ctx context.Context) *GCReport {
	g.cycle.Lock()
	defer g.cycle.Unlock()
	return g.runLocked(ctx, nil)
}

// runLocked runs every enabled task, or, when only is not nil, the enabled
// tasks it names.
func (g *GC) runLocked(ctx context.Context, only map[string]bool) *GCReport {
	g.state.Lock()
	g.busy = true
	g.state.Unlock()
	defer func() {
		g.state.Lock()
		g.busy = false
		g.state.Unlock()
	}()
	start := time.Now()
	report := &GCReport{Results: []GCTaskResult{}}
	for _, name := range GCTasks {
		if !g.o.Tasks[name] || (only != nil && !only[name]) {
			continue
		}
		r := GCTaskResult{TaskName: name, Errors: []string{}}
		var err error
		switch name {
		case GCIdleSession:
			err = g.idleSessions(ctx, &r)
		case GCExpiredSandbox:
			err = g.expiredSandboxes(ctx, &r)
		case GCOrphanLocker:
			err = g.orphanLockers(ctx, &r)
		case GCOrphanContainer:
			err = g.orphanContainers(ctx, &r)
		case GCExecutionHistory:
			err = g.executionHistory(ctx, &r)
		}
		if err != nil {
			r.Errors = append(r.Errors, "Task failed: "+err.Error())
		}
		report.Results = append(report.Results, r)
		report.TotalCleaned += r.CleanedCount
		report.TotalErrors += len(r.Errors)
	}
	report.Duration = time.Since(start)
	if report.TotalCleaned > 0 || report.TotalErrors > 0 {
		g.log.InfoContext(ctx, "gc cycle", "cleaned", report.TotalCleaned, "errors", report.TotalErrors, "duration_ms", report.Duration.Milliseconds())
	}
	for _, r := range report.Results {
		for _, e := range r.Errors {
			g.log.WarnContext(ctx, "gc error", "task", r.TaskName, "err", e)
		}
	}
	if g.o.Observe != nil {
		g.o.Observe(report)
	}
	return report
}

// Loop runs a cycle every interval until ctx ends, and purges expired
// idempotency keys beside it. The start-up cycle, if any, is the caller's
// (it must finish before serving).
func (g *GC) Loop(ctx context.Context) {
	if g.o.Idempotency != nil {
		go g.purgeLoop(ctx)
	}
	if !g.o.Enabled {
		return
	}
	every(ctx, g.o.Interval, func() { g.RunCycle(ctx) })
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// purgeLoop deletes expired idempotency keys every PurgeEvery until ctx
// ends.
func (g *GC) purgeLoop(ctx context.Context) {
	period := g.o.PurgeEvery
	if period <= 0 {
		period = 10 * time.Minute
	}
	every(ctx, period, func() {
		if n, err := g.o.Idempotency.PurgeExpired(ctx); err != nil {
			g.log.WarnContext(ctx, "purge idempotency keys", "err", err)
		} else if n > 0 {
			g.log.DebugContext(ctx, "purged idempotency keys", "count", n)
		}
	})
}

func (g *GC) idleSessions(ctx context.Context, r *GCTaskResult) error {
	ids, err := g.o.Store.Sandboxes().ListIdleDue(ctx, g.o.Clock.Now())
	if err != nil {
		return err
	}
	for _, id := range ids {
		done, err := g.o.Sandboxes.reclaim(ctx, id, StopReasonIdle, func(sb *Sandbox, now time.Time) bool {
			return sb.IdleExpiresAt != nil && sb.IdleExpiresAt.Before(now)
		})
		count(r, "sandbox", id, done, err)
	}
	return nil
}

func (g *GC) expiredSandboxes(ctx context.Context, r *GCTaskResult) error {
	ids, err := g.o.Store.Sandboxes().ListExpiredDue(ctx, g.o.Clock.Now())
	if err != nil {
		return err
	}
	for _, id := range ids {
		done, err := g.o.Sandboxes.destroy(ctx, id, func(sb *Sandbox, now time.Time) bool {
			if sb.ExpiresAt == nil || !sb.ExpiresAt.Before(now) {
				return false
			}
			sb.StopReason = StopReasonTTL
			return true
		})
		if done && err != nil {
			// Soft-deleted; only the managed locker's removal failed, which
			// orphan-locker GC retries.
			g.log.WarnContext(ctx, "expired sandbox locker", "sandbox_id", id, "err", err)
			err = nil
		}
		count(r, "sandbox", id, done, err)
	}
	return nil
}

func (g *GC) orphanLockers(ctx context.Context, r *GCTaskResult) error {
	lockers, err := g.o.Store.Lockers().ListOrphans(ctx)
	if err != nil {
		return err
	}
	for _, l := range lockers {
		err := g.o.Sandboxes.deleteLocker(ctx, l)
		count(r, "locker", l.ID, err == nil, err)
	}
	return nil
}

// ContainerNamePrefix starts the name of every session container.
const ContainerNamePrefix = "bay-session-"

func (g *GC) orphanContainers(ctx context.Context, r *GCTaskResult) error {
	list, err := g.o.Runtime.ListContainers(ctx, map[string]string{LabelManaged: "true", LabelInstanceID: g.o.InstanceID})
	if err != nil {
		return err
	}
	var orphans []ContainerInfo
	for _, c := range list {
		if !g.strictOrphan(ctx, c) {
			r.SkippedCount++
			continue
		}
		orphans = append(orphans, c)
	}
	// A session's other containers go before its network owner.
	slices.SortStableFunc(orphans, func(a, b ContainerInfo) int {
		return boolCompare(joined(a), joined(b))
	})
	for _, c := range orphans {
		err := g.o.Runtime.RemoveContainer(ctx, c.ID)
		count(r, "container", c.ID, err == nil, err)
	}
	return nil
}

// joined reports whether c is a session's container other than its
// network owner: it joined another's namespace, or is named after its
// container (bay-session-<session id>-<name>).
func joined(c ContainerInfo) bool {
	return c.NetworkOwner != "" || strings.TrimPrefix(c.Name, "/") != ContainerName(c.Labels[LabelSessionID])
}

// boolCompare orders true before false.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	default:
		return 1
	}
}

// strictOrphan applies the rules of lifecycle.md §12.5: only a container
// that is certainly Bay's, this instance's, and whose session row is gone.
func (g *GC) strictOrphan(ctx context.Context, c ContainerInfo) bool {
	l := c.Labels
	if !strings.HasPrefix(strings.TrimPrefix(c.Name, "/"), ContainerNamePrefix) {
		return false
	}
	for _, k := range []string{LabelSessionID, LabelSandboxID, LabelInstanceID, LabelManaged} {
		if _, ok := l[k]; !ok {
			return false
		}
	}
	if _, ok := l[LabelLockerID]; !ok {
		if _, ok := l["bay.workspace_id"]; !ok {
			return false
		}
	}
	if l[LabelManaged] != "true" || l[LabelInstanceID] != g.o.InstanceID || l[LabelSessionID] == "" {
		return false
	}
	// A warm pool entry's containers carry the session id it reserved,
	// which has no row until a claim. A claim deletes the entry and
	// inserts the session in one transaction: read in this order, one of
	// the two is always found.
	if _, err := g.o.Store.WarmPool().GetBySession(ctx, l[LabelSessionID]); CodeOf(err) != CodeNotFound {
		return false
	}
	_, err := g.o.Store.Sessions().Get(ctx, l[LabelSessionID])
	return CodeOf(err) == CodeNotFound
}

func count(r *GCTaskResult, kind, id string, done bool, err error) {
	switch {
	case err != nil:
		r.Errors = append(r.Errors, fmt.Sprintf("%s %s: %s", kind, id, errorMessage(err)))
	case done:
		r.CleanedCount++
	default:
		r.SkippedCount++
	}
}

func errorMessage(err error) string {
	if e := AsError(err); e != nil && e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return err.Error()
}

// Reconcile repairs what a crash of this instance left behind. A session
// whose start this instance claimed before it started is marked failed, its
// containers found so far (recorded or labelled with the session, all of
// them for a session of several) are removed, and its sandbox records the stop
// reason error; the row is kept, so a container the daemon was still
// creating when the process died carries a known session and is adopted or
// replaced by the next start, never left as an orphan. With removeOrphans,
// containers labelled with this instance whose session row is gone are
// removed too. Lockers are never touched: their volumes keep every byte.
func (g *GC) Reconcile(ctx context.Context, removeOrphans bool) (fixed int, err error) {
	starting, err := g.o.Store.Sessions().ListByObservedState(ctx, SessionStarting)
	if err != nil {
		return 0, err
	}
	for _, sess := range starting {
		if sess.ClaimedBy != g.o.InstanceID || (sess.ClaimedAt != nil && !sess.ClaimedAt.Before(g.o.Sandboxes.opts.StartedAt)) {
			continue
		}
		n, err := g.reconcileSession(ctx, sess)
		if err != nil {
			return fixed, err
		}
		fixed += n
	}
	if removeOrphans {
		var r GCTaskResult
		if err := g.orphanContainers(ctx, &r); err != nil {
			return fixed, err
		}
		fixed += r.CleanedCount
	}
	return fixed, nil
}

func (g *GC) reconcileSession(ctx context.Context, sess *Session) (int, error) {
	// The container may exist without its id recorded: find it by label.
	list, err := g.o.Runtime.ListContainers(ctx, map[string]string{LabelSessionID: sess.ID, LabelInstanceID: g.o.InstanceID})
	if err != nil {
		return 0, err
	}
	// The recorded ones (the network owner first), then those found only
	// by label; removed in reverse, so the owner goes last.
	ids := sess.ContainerIDs()
	slices.SortStableFunc(list, func(a, b ContainerInfo) int { return boolCompare(!joined(a), !joined(b)) })
	for _, c := range list {
		if !slices.Contains(ids, c.ID) {
			ids = append(ids, c.ID)
		}
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if err := g.o.Runtime.RemoveContainer(ctx, ids[i]); err != nil {
			return 0, err
		}
	}
	err = g.o.Store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, sess.SandboxID)
		if err != nil {
			return err
		}
		cur, err := tx.Sessions().Get(ctx, sess.ID)
		if CodeOf(err) == CodeNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.ObservedState != SessionStarting || cur.ClaimedBy != g.o.InstanceID {
			return nil // settled meanwhile
		}
		now := g.o.Clock.Now()
		cur.ObservedState = SessionFailed
		cur.ContainerID, cur.Endpoint, cur.Containers = "", "", nil
		cur.ClaimedBy, cur.ClaimedAt = "", nil
		cur.LastObservedAt = &now
		cur.UpdatedAt = now
		if err := tx.Sessions().Save(ctx, cur); err != nil {
			return err
		}
		if sb.CurrentSessionID == cur.ID {
			sb.StopReason = StopReasonError
			sb.UpdatedAt = now
			return tx.Sandboxes().Save(ctx, sb)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// executionHistory deletes the rows of deleted sandboxes, rows past the
// age limit and rows beyond the newest MaxPerSandbox of their sandbox
// (cleaned), then marks lost the running rows nothing will finish
// (skipped): this instance's from before it started, and any far past its
// timeout.
func (g *GC) executionHistory(ctx context.Context, r *GCTaskResult) error {
	ex := g.o.Store.Executions()
	steps := []func() (int64, error){
		func() (int64, error) { return ex.DeleteOfDeletedSandboxes(ctx, gcBatch) },
	}
	if g.o.History.MaxAge > 0 {
		steps = append(steps, func() (int64, error) {
			return ex.DeleteCreatedBefore(ctx, g.o.Clock.Now().Add(-g.o.History.MaxAge), gcBatch)
		})
	}
	if g.o.History.MaxPerSandbox > 0 {
		steps = append(steps, func() (int64, error) { return ex.DeleteBeyondCap(ctx, g.o.History.MaxPerSandbox, gcBatch) })
	}
	for _, step := range steps {
		for {
			n, err := step()
			r.CleanedCount += int(n)
			if err != nil {
				return err
			}
			if n < gcBatch {
				break
			}
		}
	}
	for {
		n, err := ex.MarkLost(ctx, g.o.InstanceID, g.o.StartedAt, g.o.Clock.Now(), staleRunning,
			string(CodeInternal), lostOnRestart, gcBatch)
		r.SkippedCount += int(n)
		if err != nil {
			return err
		}
		if n < gcBatch {
			return nil
		}
	}
}

package core

import (
	"context"
	"errors"
	"io"
	"path"
	"slices"
	"time"
)

// callMargin is added to a call's own timeout when Bay marks the sandbox
// busy for it: idle GC never reclaims a session while a call is in flight.
const callMargin = 10 * time.Second

// fsTimeout is the Ship client timeout of filesystem calls (Appendix A).
const fsTimeout = 30 * time.Second

// CheckCapability runs the checks of the capability pipeline that come
// before the request shape: the sandbox exists for the owner (not_found) and
// its profile lists the capability (capability_not_supported). A capability
// call runs them itself; this is for a request refused before it gets there.
func (s *SandboxService) CheckCapability(ctx context.Context, owner, id, capability string) error {
	sb, err := s.store.Sandboxes().GetForOwner(ctx, owner, id)
	if err != nil {
		return err
	}
	_, err = s.admit(sb, owner, capability)
	return err
}

// admit runs the first checks of the capability pipeline on a sandbox row:
// it is owner's and live (not_found), and its profile exists and lists the
// capability (capability_not_supported). It returns the profile.
func (s *SandboxService) admit(sb *Sandbox, owner, capability string) (*Profile, error) {
	if sb.Owner != owner || sb.DeletedAt != nil {
		return nil, NotFound("Sandbox not found: %s", sb.ID)
	}
	p := s.profile(sb.ProfileID)
	if p == nil {
		return nil, Errorf(CodeCapabilityNotSupported, "Profile not found: %s", sb.ProfileID).
			WithDetails(map[string]any{"capability": capability})
	}
	if !p.HasCapability(capability) {
		return nil, Errorf(CodeCapabilityNotSupported, "Profile '%s' does not support capability: %s", p.ID, capability).
			WithDetails(map[string]any{"capability": capability, "available": slices.Clone(p.Capabilities)})
	}
	return p, nil
}

// call runs one capability call: the pipeline of bay-api.md §7.4.1 from the
// sandbox lookup on (the request shape was checked by the caller; validate,
// when not nil, checks the paths). busy is how long the call may take: the
// idle deadline is pushed past it so idle GC does not reclaim the session
// mid-call, and re-armed when the call ends.
//
// The checks up to the expiry run in ensureRunning's claim, on the row it
// reads and locks anyway, in the pipeline's order: lookup, profile
// capability, paths, runtime type, then the claim's own expiry check. So a
// call reads its sandbox once, and the locking is the claim's as before.
//
// The call goes to the session's container that serves the capability
// (browser.md §2): fn gets that container's endpoint, after its runtime's
// /meta (read through the client of its runtime type) declared the
// capability.
func (s *SandboxService) call(ctx context.Context, owner, id, capability string, busy time.Duration,
	validate func() error, fn func(ctx context.Context, ep Endpoint) error) error {
	// A sandbox with a call in flight here is never paused (pause.go).
	defer s.calls.enter(id)()
	validated := validate == nil // validate normalizes paths in place: run it once
	admit := func(sb *Sandbox) (*Profile, error) {
		p, err := s.admit(sb, owner, capability)
		if err != nil {
			return nil, err
		}
		if !validated {
			if err := validate(); err != nil {
				return nil, err
			}
			validated = true
		}
		if c := p.ContainerFor(capability); c == nil || s.clients[c.RuntimeType] == nil {
			rt := p.RuntimeType
			if c != nil {
				rt = c.RuntimeType
			}
			return nil, Errorf(CodeInternal, "Unsupported runtime type: %s", rt)
		}
		return p, nil
	}
	for attempt := 0; ; attempt++ {
		began := s.clock.Now()
		sess, p, err := s.ensureRunning(ctx, id, busy, admit)
		if err != nil {
			return err
		}
		target, runtimeType, err := s.route(sess, p, capability)
		if err != nil {
			return err
		}
		if err := s.checkRuntimeOperationOf(ctx, runtimeType, target, capability, ""); err != nil {
			if attempt == 0 && s.recoverDead(ctx, sess, err) {
				continue
			}
			return err
		}
		err = fn(ctx, target)
		if err != nil && attempt == 0 && s.recoverDead(ctx, sess, err) {
			continue // the request never reached the runtime: retry on a fresh one
		}
		// The claim set the idle deadline to now + max(idle timeout, busy).
		// Only when the call's possible length exceeded the idle timeout
		// does the deadline need bringing back to its end + idle timeout; in
		// the common case it is already right, and a write is saved. A call
		// that lasted idle_pause or longer moves it too: the pause counts
		// from the end of the last call (pause.go).
		if busy > p.IdleTimeout || (p.IdlePause > 0 && s.clock.Now().Sub(began) >= p.IdlePause) {
			s.rearmIdle(ctx, id, p)
		}
		return err
	}
}

// route returns the endpoint of the running session's container that
// serves capability, and its runtime type (browser.md §2): the container
// whose recorded capabilities hold it, else the container the current
// profile gives it to when the session has one of that name and type (the
// profile changed that container's list; its /meta decides). A session
// started before containers were recorded has one container, Ship's. None
// (the profile gained a container since the session started) is
// capability_not_supported.
func (s *SandboxService) route(sess *Session, p *Profile, capability string) (Endpoint, string, error) {
	if len(sess.Containers) == 0 {
		rt := sess.RuntimeType
		if rt == "" {
			rt = RuntimeTypeShip
		}
		return sess.Target(), rt, nil
	}
	ep := func(c *SessionContainer) (Endpoint, string, error) {
		return Endpoint{URL: c.Endpoint, Token: sess.RuntimeToken}, c.RuntimeType, nil
	}
	for i := range sess.Containers {
		if slices.Contains(sess.Containers[i].Capabilities, capability) {
			return ep(&sess.Containers[i])
		}
	}
	if want := p.ContainerFor(capability); want != nil {
		for i := range sess.Containers {
			if c := &sess.Containers[i]; c.Name == want.Name && c.RuntimeType == want.RuntimeType {
				return ep(c)
			}
		}
	}
	var available []string
	for _, c := range sess.Containers {
		for _, k := range c.Capabilities {
			if !slices.Contains(available, k) {
				available = append(available, k)
			}
		}
	}
	return Endpoint{}, "", Errorf(CodeCapabilityNotSupported,
		"The sandbox's running session has no container for capability %s: stop the sandbox to apply the current profile", capability).
		WithDetails(map[string]any{"capability": capability, "available": nonNilStrings(available)})
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// recoverDead handles a call that could not reach the session's runtime: if
// any of the session's containers is gone or stopped, every one is removed
// and the session reset so that the next ensureRunning starts them anew
// (browser.md §1.5), and true is returned. Containers found paused under
// the running session (a crash between a resume's commit and its thaw) are
// thawed, and true is returned too.
func (s *SandboxService) recoverDead(ctx context.Context, sess *Session, callErr error) bool {
	var unreachable *ErrUnreachable
	if !errors.As(callErr, &unreachable) {
		return false
	}
	ids := sess.ContainerIDs()
	var dead string
	var state ContainerState
	var paused []string
	for _, cid := range ids {
		st, err := s.runtime.ContainerState(ctx, cid)
		if err != nil {
			return false
		}
		if st == ContainerPaused {
			paused = append(paused, cid)
			continue
		}
		if st != ContainerRunning {
			dead, state = cid, st
			break
		}
	}
	if dead == "" {
		if len(paused) == 0 {
			return false
		}
		slices.Reverse(paused) // thaw takes them in the order they were frozen
		s.thaw(ctx, sess.ID, paused)
		s.log.InfoContext(ctx, "thawed containers paused under a running session", "session_id", sess.ID, "count", len(paused))
		return true
	}
	s.forgetMeta(sess.Endpoints()...)
	s.removeContainers(ctx, sess.ID, ids, "remove container of a dead session")
	if err := s.resetDead(ctx, sess); err != nil {
		s.log.WarnContext(ctx, "reset dead session", "session_id", sess.ID, "err", err)
		return false
	}
	s.log.InfoContext(ctx, "runtime container was gone; starting new ones", "session_id", sess.ID, "container_id", dead, "state", string(state))
	return true
}

// resetDead records that the session's containers are gone (removed by
// the caller): the session returns to pending without containers, so the
// next claim starts new ones, and its sandbox records the stop reason
// error. A session reset or removed by someone else meanwhile is left
// alone.
func (s *SandboxService) resetDead(ctx context.Context, sess *Session) error {
	return s.store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, sess.SandboxID)
		if err != nil {
			return err
		}
		cur, err := tx.Sessions().Get(ctx, sess.ID)
		if err != nil || cur.ContainerID != sess.ContainerID {
			return err // already reset or removed by someone else
		}
		now := s.clock.Now()
		cur.ContainerID, cur.Endpoint, cur.Containers = "", "", nil
		cur.ObservedState = SessionPending
		cur.LastObservedAt = &now
		cur.UpdatedAt = now
		if err := tx.Sessions().Save(ctx, cur); err != nil {
			return err
		}
		// A runtime died under the sandbox (a crash, an OOM kill, a
		// container removed by hand): its in-memory state is gone.
		sb.StopReason = StopReasonError
		sb.UpdatedAt = now
		return tx.Sandboxes().Save(ctx, sb)
	})
}

// rearmIdle sets the idle deadline to now + idle timeout after a call.
func (s *SandboxService) rearmIdle(ctx context.Context, id string, p *Profile) {
	ctx = context.WithoutCancel(ctx)
	err := s.store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if sb.DeletedAt != nil || sb.CurrentSessionID == "" {
			return nil // stopped meanwhile: leave the deadline cleared
		}
		now := s.clock.Now()
		idle := now.Add(p.IdleTimeout)
		sb.IdleExpiresAt = &idle
		sb.LastActiveAt = now
		sb.UpdatedAt = now
		return tx.Sandboxes().Save(ctx, sb)
	})
	if err != nil && CodeOf(err) != CodeNotFound {
		s.log.WarnContext(ctx, "re-arm idle deadline", "sandbox_id", id, "err", err)
	}
}

// checkRuntimeCapability checks that the Ship at ep declares capability.
func (s *SandboxService) checkRuntimeCapability(ctx context.Context, ep Endpoint, capability string) error {
	return s.checkRuntimeOperationOf(ctx, RuntimeTypeShip, ep, capability, "")
}

// runtimeCapabilities returns the /meta capabilities of the Ship at ep,
// cached until the endpoint goes away.
func (s *SandboxService) runtimeCapabilities(ctx context.Context, ep Endpoint) (RuntimeCapabilities, error) {
	return s.runtimeCapabilitiesOf(ctx, RuntimeTypeShip, ep)
}

// metaClient returns the client of a runtime type for /health and /meta:
// its registered one, else Ship's (the two routes are the same protocol for
// every runtime).
func (s *SandboxService) metaClient(runtimeType string) RuntimeMeta {
	if c := s.clients[runtimeType]; c != nil {
		return c
	}
	return s.ship
}

// runtimeCapabilitiesOf returns the /meta capabilities of the runtime of
// type runtimeType at ep, cached until the endpoint goes away.
func (s *SandboxService) runtimeCapabilitiesOf(ctx context.Context, runtimeType string, ep Endpoint) (RuntimeCapabilities, error) {
	s.metaMu.Lock()
	caps, ok := s.meta[ep.URL]
	s.metaMu.Unlock()
	if ok {
		return caps, nil
	}
	caps, err := s.metaClient(runtimeType).Capabilities(ctx, ep)
	if err != nil {
		return nil, err
	}
	s.metaMu.Lock()
	s.meta[ep.URL] = caps
	s.metaMu.Unlock()
	return caps, nil
}

// checkRuntimeOperation checks that the Ship at ep declares capability
// and, when operation is not empty, that operation of it.
func (s *SandboxService) checkRuntimeOperation(ctx context.Context, ep Endpoint, capability, operation string) error {
	return s.checkRuntimeOperationOf(ctx, RuntimeTypeShip, ep, capability, operation)
}

// checkRuntimeOperationOf checks that the runtime of type runtimeType at ep
// declares capability and, when operation is not empty, that operation of
// it.
func (s *SandboxService) checkRuntimeOperationOf(ctx context.Context, runtimeType string, ep Endpoint, capability, operation string) error {
	caps, err := s.runtimeCapabilitiesOf(ctx, runtimeType, ep)
	if err != nil {
		return err
	}
	if !caps.Has(capability, "") {
		return Errorf(CodeCapabilityNotSupported, "Runtime does not support capability: %s", capability).
			WithDetails(map[string]any{"capability": capability, "available": caps.Keys()})
	}
	if !caps.Has(capability, operation) {
		return Errorf(CodeCapabilityNotSupported, "Runtime does not support operation %s of capability %s", operation, capability).
			WithDetails(map[string]any{"capability": capability, "operation": operation})
	}
	return nil
}

// forgetMeta drops the cached /meta of endpoints that are going away.
func (s *SandboxService) forgetMeta(endpoints ...string) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	for _, ep := range endpoints {
		if ep != "" {
			delete(s.meta, ep)
		}
	}
}

func pathValidator(field string, p *string) func() error {
	return func() error {
		n, err := NormalizePath(field, *p)
		if err != nil {
			return err
		}
		*p = n
		return nil
	}
}

// Python runs code in the sandbox's kernel, starting the runtime if needed.
func (s *SandboxService) Python(ctx context.Context, owner, id, code string, timeout int) (*PythonResult, error) {
	var out *PythonResult
	err := s.call(ctx, owner, id, CapabilityPython, time.Duration(timeout)*time.Second+callMargin, nil,
		func(ctx context.Context, ep Endpoint) (err error) {
			out, err = s.ship.Python(ctx, ep, code, timeout, "")
			return err
		})
	return out, err
}

// Shell runs a command in the sandbox, starting the runtime if needed.
func (s *SandboxService) Shell(ctx context.Context, owner, id string, in ShellInput) (*ShellResult, error) {
	var out *ShellResult
	var validate func() error
	if in.Cwd != nil {
		cwd := *in.Cwd
		in.Cwd = &cwd
		validate = pathValidator("cwd", in.Cwd)
	}
	err := s.call(ctx, owner, id, CapabilityShell, time.Duration(in.Timeout)*time.Second+callMargin, validate,
		func(ctx context.Context, ep Endpoint) (err error) {
			out, err = s.ship.Shell(ctx, ep, in)
			return err
		})
	return out, err
}

// ReadFile returns a text file of the sandbox's workspace.
func (s *SandboxService) ReadFile(ctx context.Context, owner, id, p string) (string, error) {
	var out string
	err := s.call(ctx, owner, id, CapabilityFilesystem, 0, pathValidator("path", &p),
		func(ctx context.Context, ep Endpoint) (err error) {
			out, err = s.ship.ReadFile(ctx, ep, p)
			return err
		})
	return out, err
}

// WriteFile writes a text file, creating parent directories.
func (s *SandboxService) WriteFile(ctx context.Context, owner, id, p, content string) error {
	return s.call(ctx, owner, id, CapabilityFilesystem, 0, pathValidator("path", &p),
		func(ctx context.Context, ep Endpoint) error { return s.ship.WriteFile(ctx, ep, p, content) })
}

// DeleteFile deletes a file, or a directory recursively.
func (s *SandboxService) DeleteFile(ctx context.Context, owner, id, p string) error {
	return s.call(ctx, owner, id, CapabilityFilesystem, 0, pathValidator("path", &p),
		func(ctx context.Context, ep Endpoint) error { return s.ship.DeleteFile(ctx, ep, p) })
}

// ListDir lists a directory ("" means the workspace root).
func (s *SandboxService) ListDir(ctx context.Context, owner, id, p string) ([]FileEntry, error) {
	if p == "" {
		p = "."
	}
	var out []FileEntry
	err := s.call(ctx, owner, id, CapabilityFilesystem, 0, pathValidator("path", &p),
		func(ctx context.Context, ep Endpoint) (err error) {
			out, err = s.ship.ListDir(ctx, ep, p)
			return err
		})
	return out, err
}

// Upload streams body into a file of the workspace.
func (s *SandboxService) Upload(ctx context.Context, owner, id, p string, body io.Reader) (*UploadResult, error) {
	var out *UploadResult
	// A body that was partly sent cannot be replayed: only retry a call
	// that never reached the runtime and consumed nothing.
	counted := &countingReader{r: body}
	err := s.call(ctx, owner, id, CapabilityFilesystem, fsTimeout, pathValidator("path", &p),
		func(ctx context.Context, ep Endpoint) error {
			n, err := s.ship.Upload(ctx, ep, p, counted)
			if err != nil {
				var unreachable *ErrUnreachable
				if counted.n > 0 && errors.As(err, &unreachable) {
					// Bytes were consumed: not retryable, whatever the cause.
					err = Wrap(unreachable.Err, CodeShipError, "Ship request error: upload interrupted")
				}
				return err
			}
			out = &UploadResult{Path: p, Size: n}
			return nil
		})
	return out, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// Download opens a file of the workspace for streaming.
func (s *SandboxService) Download(ctx context.Context, owner, id, p string) (*Download, error) {
	var out *Download
	err := s.call(ctx, owner, id, CapabilityFilesystem, 0, pathValidator("path", &p),
		func(ctx context.Context, ep Endpoint) (err error) {
			out, err = s.ship.Download(ctx, ep, p)
			if err == nil {
				out.Name = path.Base(p)
			}
			return err
		})
	return out, err
}

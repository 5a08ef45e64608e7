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
func (s *SandboxService) call(ctx context.Context, owner, id, capability string, busy time.Duration,
	validate func() error, fn func(ctx context.Context, ep Endpoint) error) error {
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
		if p.RuntimeType != RuntimeTypeShip {
			return nil, Errorf(CodeInternal, "Unsupported runtime type: %s", p.RuntimeType)
		}
		return p, nil
	}
	for attempt := 0; ; attempt++ {
		sess, p, err := s.ensureRunning(ctx, id, busy, admit)
		if err != nil {
			return err
		}
		if err := s.checkRuntimeCapability(ctx, sess.Target(), capability); err != nil {
			if attempt == 0 && s.recoverDead(ctx, sess, err) {
				continue
			}
			return err
		}
		err = fn(ctx, sess.Target())
		if err != nil && attempt == 0 && s.recoverDead(ctx, sess, err) {
			continue // the request never reached the runtime: retry on a fresh one
		}
		// The claim set the idle deadline to now + max(idle timeout, busy).
		// Only when the call's possible length exceeded the idle timeout
		// does the deadline need bringing back to its end + idle timeout; in
		// the common case it is already right, and a write is saved.
		if busy > p.IdleTimeout {
			s.rearmIdle(ctx, id, p)
		}
		return err
	}
}

// recoverDead handles a call that could not reach the session's runtime: if
// the container is gone or stopped, the session is reset so that the next
// ensureRunning starts a new container, and true is returned.
func (s *SandboxService) recoverDead(ctx context.Context, sess *Session, callErr error) bool {
	var unreachable *ErrUnreachable
	if !errors.As(callErr, &unreachable) {
		return false
	}
	state, err := s.runtime.ContainerState(ctx, sess.ContainerID)
	if err != nil || state == ContainerRunning {
		return false
	}
	s.forgetMeta(sess.Endpoint)
	_ = s.runtime.RemoveContainer(context.WithoutCancel(ctx), sess.ContainerID)
	err = s.store.InTx(ctx, func(tx Store) error {
		sb, err := tx.Sandboxes().GetForUpdate(ctx, sess.SandboxID)
		if err != nil {
			return err
		}
		cur, err := tx.Sessions().Get(ctx, sess.ID)
		if err != nil || cur.ContainerID != sess.ContainerID {
			return err // already reset or removed by someone else
		}
		now := s.clock.Now()
		cur.ContainerID, cur.Endpoint = "", ""
		cur.ObservedState = SessionPending
		cur.LastObservedAt = &now
		cur.UpdatedAt = now
		if err := tx.Sessions().Save(ctx, cur); err != nil {
			return err
		}
		// The runtime died under the sandbox (a crash, an OOM kill, a
		// container removed by hand): its in-memory state is gone.
		sb.StopReason = StopReasonError
		sb.UpdatedAt = now
		return tx.Sandboxes().Save(ctx, sb)
	})
	if err != nil {
		s.log.WarnContext(ctx, "reset dead session", "session_id", sess.ID, "err", err)
		return false
	}
	s.log.InfoContext(ctx, "runtime container was gone; starting a new one", "session_id", sess.ID, "container_id", sess.ContainerID, "state", string(state))
	return true
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

func (s *SandboxService) checkRuntimeCapability(ctx context.Context, ep Endpoint, capability string) error {
	return s.checkRuntimeOperation(ctx, ep, capability, "")
}

// runtimeCapabilities returns the endpoint's /meta capabilities, cached
// until the endpoint goes away.
func (s *SandboxService) runtimeCapabilities(ctx context.Context, ep Endpoint) (RuntimeCapabilities, error) {
	s.metaMu.Lock()
	caps, ok := s.meta[ep.URL]
	s.metaMu.Unlock()
	if ok {
		return caps, nil
	}
	caps, err := s.ship.Capabilities(ctx, ep)
	if err != nil {
		return nil, err
	}
	s.metaMu.Lock()
	s.meta[ep.URL] = caps
	s.metaMu.Unlock()
	return caps, nil
}

// checkRuntimeOperation checks that the runtime declares capability and,
// when operation is not empty, that operation of it.
func (s *SandboxService) checkRuntimeOperation(ctx context.Context, ep Endpoint, capability, operation string) error {
	caps, err := s.runtimeCapabilities(ctx, ep)
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

// forgetMeta drops the cached /meta of an endpoint that is going away.
func (s *SandboxService) forgetMeta(endpoint string) {
	if endpoint == "" {
		return
	}
	s.metaMu.Lock()
	delete(s.meta, endpoint)
	s.metaMu.Unlock()
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

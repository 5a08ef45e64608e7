package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

const (
	defaultLimit = 50
	maxLimit     = 200
)

// GetHealth answers the liveness check. It checks no dependency: an outage
// of the database must not make an orchestrator restart every instance.
func (s *Server) GetHealth(ctx context.Context, _ oapigen.GetHealthRequestObject) (oapigen.GetHealthResponseObject, error) {
	return newReply(http.StatusOK, oapigen.Health{Status: oapigen.HealthStatusOk})
}

// GetReady answers the readiness check (bay-api.md §7.1.1).
func (s *Server) GetReady(ctx context.Context, _ oapigen.GetReadyRequestObject) (oapigen.GetReadyResponseObject, error) {
	r := s.ready.check(ctx)
	status := http.StatusOK
	if r.Status != oapigen.ReadinessReady {
		status = http.StatusServiceUnavailable
	}
	return newReply(status, r)
}

// ListProfiles lists the configured profiles.
func (s *Server) ListProfiles(ctx context.Context, _ oapigen.ListProfilesRequestObject) (oapigen.ListProfilesResponseObject, error) {
	profiles := s.sandboxes.Profiles()
	out := oapigen.ProfileList{Items: make([]oapigen.Profile, 0, len(profiles))}
	for _, p := range profiles {
		containers := []oapigen.ProfileContainer{}
		for _, c := range p.ContainerList() {
			containers = append(containers, oapigen.ProfileContainer{
				Name: c.Name, RuntimeType: c.RuntimeType, Image: c.Image, Capabilities: nonNil(c.Capabilities),
				Resources: oapigen.ProfileContainerResources{
					Cpus: c.CPUs, Memory: c.Memory, Pids: c.PidsLimitOrDefault(), Shm: optional(c.Shm),
				},
			})
		}
		out.Items = append(out.Items, oapigen.Profile{
			Id:           p.ID,
			Image:        p.Image,
			Resources:    oapigen.ProfileResources{Cpus: p.CPUs, Memory: p.Memory},
			Capabilities: nonNil(p.Capabilities),
			IdleTimeout:  int64(p.IdleTimeout / time.Second),
			IdlePause:    int64(p.IdlePause / time.Second),
			Network:      oapigen.ProfileNetwork(p.NetworkMode()),
			Containers:   containers,
		})
	}
	return newReply(http.StatusOK, out)
}

// CreateSandbox creates a sandbox, through Idempotency when a key is sent.
func (s *Server) CreateSandbox(ctx context.Context, req oapigen.CreateSandboxRequestObject) (oapigen.CreateSandboxResponseObject, error) {
	owner := ownerFrom(ctx)
	in := core.CreateSandboxInput{Profile: "python-default"}
	if b := req.Body; b != nil {
		in.Profile = deref(b.Profile, in.Profile)
		in.LockerID = deref(b.LockerId, "")
		in.TTL = deref(b.Ttl, 0)
	}
	status, body, err := s.idempotent(ctx, req.Params.IdempotencyKey, http.MethodPost, "/v1/sandboxes",
		func(ctx context.Context) (int, []byte, error) {
			info, err := s.sandboxes.Create(ctx, owner, in)
			if err != nil {
				return 0, nil, err
			}
			r, err := newReply(http.StatusCreated, sandboxOut(info))
			return r.status, r.body, err
		})
	if err != nil {
		return nil, err
	}
	return jsonReply{status: status, body: body}, nil
}

// ListSandboxes lists the caller's sandboxes.
func (s *Server) ListSandboxes(ctx context.Context, req oapigen.ListSandboxesRequestObject) (oapigen.ListSandboxesResponseObject, error) {
	limit, err := pageLimit(req.Params.Limit)
	if err != nil {
		return nil, err
	}
	page, err := s.sandboxes.List(ctx, ownerFrom(ctx), deref(req.Params.Cursor, ""), limit, deref(req.Params.Status, ""))
	if err != nil {
		return nil, err
	}
	out := oapigen.SandboxList{Items: make([]oapigen.Sandbox, 0, len(page.Items)), NextCursor: optional(page.NextCursor)}
	for i := range page.Items {
		out.Items = append(out.Items, sandboxOut(&page.Items[i]))
	}
	return newReply(http.StatusOK, out)
}

// GetSandbox returns one sandbox.
func (s *Server) GetSandbox(ctx context.Context, req oapigen.GetSandboxRequestObject) (oapigen.GetSandboxResponseObject, error) {
	info, err := s.sandboxes.Get(ctx, ownerFrom(ctx), req.SandboxId)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, sandboxOut(info))
}

// DeleteSandbox deletes a sandbox.
func (s *Server) DeleteSandbox(ctx context.Context, req oapigen.DeleteSandboxRequestObject) (oapigen.DeleteSandboxResponseObject, error) {
	if err := s.sandboxes.Delete(ctx, ownerFrom(ctx), req.SandboxId); err != nil {
		return nil, err
	}
	return emptyReply{}, nil
}

// ExtendSandboxTTL pushes a sandbox's deadline, through Idempotency when a
// key is sent.
func (s *Server) ExtendSandboxTTL(ctx context.Context, req oapigen.ExtendSandboxTTLRequestObject) (oapigen.ExtendSandboxTTLResponseObject, error) {
	owner := ownerFrom(ctx)
	var extendBy int64
	if req.Body != nil {
		extendBy = req.Body.ExtendBy
	}
	status, body, err := s.idempotent(ctx, req.Params.IdempotencyKey, http.MethodPost, "/v1/sandboxes/"+req.SandboxId+"/extend_ttl",
		func(ctx context.Context) (int, []byte, error) {
			info, err := s.sandboxes.ExtendTTL(ctx, owner, req.SandboxId, extendBy)
			if err != nil {
				return 0, nil, err
			}
			r, err := newReply(http.StatusOK, sandboxOut(info))
			return r.status, r.body, err
		})
	if err != nil {
		return nil, err
	}
	return jsonReply{status: status, body: body}, nil
}

// KeepaliveSandbox re-arms the idle deadline.
func (s *Server) KeepaliveSandbox(ctx context.Context, req oapigen.KeepaliveSandboxRequestObject) (oapigen.KeepaliveSandboxResponseObject, error) {
	if err := s.sandboxes.Keepalive(ctx, ownerFrom(ctx), req.SandboxId); err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.StatusOK{Status: oapigen.StatusOKStatusOk})
}

// StopSandbox stops a sandbox's compute.
func (s *Server) StopSandbox(ctx context.Context, req oapigen.StopSandboxRequestObject) (oapigen.StopSandboxResponseObject, error) {
	if err := s.sandboxes.Stop(ctx, ownerFrom(ctx), req.SandboxId); err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.StatusStopped{Status: oapigen.Stopped})
}

// idempotent runs fn through Idempotency when it is enabled and a key was
// sent. The fingerprint is SHA-256 of "METHOD:PATH:canonical body"
// (lifecycle.md §9); the canonical body was computed by readBody.
func (s *Server) idempotent(ctx context.Context, key *string, method, path string, fn func(context.Context) (int, []byte, error)) (int, []byte, error) {
	k := deref(key, "")
	if s.idem == nil || k == "" {
		return fn(ctx)
	}
	sum := sha256.Sum256([]byte(method + ":" + path + ":" + string(infoFrom(ctx).body)))
	return s.idem.Do(ctx, ownerFrom(ctx), k, hex.EncodeToString(sum[:]), fn)
}

// sandboxOut renders a sandbox.
func sandboxOut(in *core.SandboxInfo) oapigen.Sandbox {
	out := oapigen.Sandbox{
		Id:            in.ID,
		Status:        oapigen.SandboxStatus(in.Status),
		Paused:        in.Paused,
		Profile:       in.Profile,
		LockerId:      optional(in.LockerID),
		Capabilities:  nonNil(in.Capabilities),
		CreatedAt:     oapigen.NewTimestamp(in.CreatedAt),
		ExpiresAt:     timestamp(in.ExpiresAt),
		IdleExpiresAt: timestamp(in.IdleExpiresAt),
	}
	if in.StopReason != core.StopReasonNone {
		r := oapigen.StopReason(in.StopReason)
		out.StopReason = &r
	}
	if in.Containers != nil {
		cs := make([]oapigen.SandboxContainer, 0, len(in.Containers))
		for _, c := range in.Containers {
			cs = append(cs, oapigen.SandboxContainer{Name: c.Name, RuntimeType: c.RuntimeType, Status: c.Status})
		}
		out.Containers = &cs
	}
	return out
}

// pageLimit applies the default and the 1..200 range of ?limit=.
func pageLimit(limit *int) (int, error) {
	if limit == nil {
		return defaultLimit, nil
	}
	switch n := *limit; {
	case n < 1:
		return 0, shape(fieldErr("Input should be greater than or equal to 1", "greater_than_equal", "query", "limit"))
	case n > maxLimit:
		return 0, shape(fieldErr("Input should be less than or equal to 200", "less_than_equal", "query", "limit"))
	default:
		return n, nil
	}
}

func timestamp(t *time.Time) *oapigen.Timestamp {
	if t == nil {
		return nil
	}
	ts := oapigen.NewTimestamp(*t)
	return &ts
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// optional maps "" to null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

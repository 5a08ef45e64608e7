package httpapi

import (
	"context"
	"net/http"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// CreateLocker creates an external locker, through Idempotency when a key
// is sent.
func (s *Server) CreateLocker(ctx context.Context, req oapigen.CreateLockerRequestObject) (oapigen.CreateLockerResponseObject, error) {
	owner := ownerFrom(ctx)
	var size *int64
	if req.Body != nil {
		size = req.Body.SizeLimitMb
	}
	status, body, err := s.idempotent(ctx, req.Params.IdempotencyKey, http.MethodPost, "/v1/lockers",
		func(ctx context.Context) (int, []byte, error) {
			l, err := s.lockers.Create(ctx, owner, size)
			if err != nil {
				return 0, nil, err
			}
			r, err := newReply(http.StatusCreated, lockerOut(l))
			return r.status, r.body, err
		})
	if err != nil {
		return nil, err
	}
	return jsonReply{status: status, body: body}, nil
}

// ListLockers lists the caller's lockers.
func (s *Server) ListLockers(ctx context.Context, req oapigen.ListLockersRequestObject) (oapigen.ListLockersResponseObject, error) {
	limit, err := pageLimit(req.Params.Limit)
	if err != nil {
		return nil, err
	}
	page, err := s.lockers.List(ctx, ownerFrom(ctx), deref(req.Params.Cursor, ""), limit, deref(req.Params.Managed, false))
	if err != nil {
		return nil, err
	}
	out := oapigen.LockerList{Items: make([]oapigen.Locker, 0, len(page.Items)), NextCursor: optional(page.NextCursor)}
	for _, l := range page.Items {
		out.Items = append(out.Items, lockerOut(l))
	}
	return newReply(http.StatusOK, out)
}

// GetLocker returns one locker.
func (s *Server) GetLocker(ctx context.Context, req oapigen.GetLockerRequestObject) (oapigen.GetLockerResponseObject, error) {
	l, err := s.lockers.Get(ctx, ownerFrom(ctx), req.LockerId)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, lockerOut(l))
}

// DeleteLocker deletes a locker.
func (s *Server) DeleteLocker(ctx context.Context, req oapigen.DeleteLockerRequestObject) (oapigen.DeleteLockerResponseObject, error) {
	if err := s.lockers.Delete(ctx, ownerFrom(ctx), req.LockerId); err != nil {
		return nil, err
	}
	return emptyReply{}, nil
}

// ReadLockerFile reads a text file straight from a locker.
func (s *Server) ReadLockerFile(ctx context.Context, req oapigen.ReadLockerFileRequestObject) (oapigen.ReadLockerFileResponseObject, error) {
	body := deref(req.Body, oapigen.ReadLockerFileJSONRequestBody{})
	content, err := s.lockers.ReadFile(ctx, ownerFrom(ctx), req.LockerId, body.Path)
	if err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.FileContent{Content: content})
}

// WriteLockerFile writes a text file straight into a locker.
func (s *Server) WriteLockerFile(ctx context.Context, req oapigen.WriteLockerFileRequestObject) (oapigen.WriteLockerFileResponseObject, error) {
	body := deref(req.Body, oapigen.WriteLockerFileJSONRequestBody{})
	if err := s.lockers.WriteFile(ctx, ownerFrom(ctx), req.LockerId, body.Path, body.Content); err != nil {
		return nil, err
	}
	return newReply(http.StatusOK, oapigen.StatusOK{Status: oapigen.StatusOKStatusOk})
}

// lockerOut renders a locker; the owner is never exposed.
func lockerOut(l *core.Locker) oapigen.Locker {
	backend := l.Backend
	if backend == "" {
		backend = core.LockerBackendDockerVolume
	}
	return oapigen.Locker{
		Id:                 l.ID,
		Managed:            l.Managed,
		ManagedBySandboxId: optional(l.ManagedBySandboxID),
		Backend:            oapigen.LockerBackend(backend),
		SizeLimitMb:        l.SizeLimitMB,
		CreatedAt:          oapigen.NewTimestamp(l.CreatedAt),
		LastAccessedAt:     oapigen.NewTimestamp(l.LastAccessedAt),
	}
}

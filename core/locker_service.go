package core

import (
	"context"
	"unicode/utf8"
)

// LockerService holds the rules of lockers as an API resource
// (bay-api.md §7.5; lifecycle.md §14).
type LockerService struct {
	store       Store
	runtime     Runtime
	clock       Clock
	ids         IDs
	defaultSize int64
	// MaxFileBytes bounds direct reads (default 16 MiB).
	maxFile int64
	quotas  Quotas
	// enforceSizes says which new lockers the runtime holds to their limit.
	enforceSizes SizeEnforcement
}

// NewLockerService returns a LockerService.
func NewLockerService(store Store, runtime Runtime, clock Clock, ids IDs, defaultSizeMB, maxFileBytes int64) *LockerService {
	if maxFileBytes <= 0 {
		maxFileBytes = 16 << 20
	}
	return &LockerService{store: store, runtime: runtime, clock: clock, ids: ids, defaultSize: defaultSizeMB, maxFile: maxFileBytes}
}

// WithEnforcedSizes says which new lockers the runtime holds to their size
// limit (a write past it fails with ENOSPC); the others record it only.
func (s *LockerService) WithEnforcedSizes(e SizeEnforcement) *LockerService {
	s.enforceSizes = e
	return s
}

// WithQuotas makes Create respect quotas.
func (s *LockerService) WithQuotas(q Quotas) *LockerService {
	s.quotas = q
	return s
}

// The bounds of a locker's size_limit_mb, which the configured default
// (locker.default_size_limit_mb) keeps too.
const (
	MinLockerSizeMB = 1
	MaxLockerSizeMB = 65536
)

// Create creates an external locker: its volume, then its row.
func (s *LockerService) Create(ctx context.Context, owner string, sizeLimitMB *int64) (*Locker, error) {
	size := s.defaultSize
	if sizeLimitMB != nil {
		if *sizeLimitMB < MinLockerSizeMB || *sizeLimitMB > MaxLockerSizeMB {
			return nil, Invalid("size_limit_mb must be between %d and %d", MinLockerSizeMB, MaxLockerSizeMB)
		}
		size = *sizeLimitMB
	}
	now := s.clock.Now()
	l := &Locker{
		ID: s.ids.New(LockerIDPrefix), Owner: owner, Backend: LockerBackendDockerVolume,
		SizeLimitMB: size, CreatedAt: now, UpdatedAt: now, LastAccessedAt: now,
	}
	l.DriverRef = VolumeName(l.ID)
	quota := s.quotas.For(owner)
	// A check before the volume exists spares creating one for nothing;
	// the one in the transaction below is the one that holds.
	if err := checkLockerQuota(ctx, s.store, quota, owner, size); err != nil {
		return nil, err
	}
	spec := VolumeSpec{LockerID: l.ID, Owner: owner}
	if s.enforceSizes.Enforces(sizeLimitMB != nil) {
		spec.SizeLimitMB = size
	}
	if err := s.runtime.CreateVolume(ctx, spec); err != nil {
		return nil, Wrap(err, CodeInternal, "create locker volume")
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		err := underOwnerLock(ctx, tx, quota, owner, func() error {
			return checkLockerQuota(ctx, tx, quota, owner, size)
		})
		if err != nil {
			return err
		}
		return tx.Lockers().Create(ctx, l)
	})
	if err != nil {
		_ = s.runtime.DeleteVolume(context.WithoutCancel(ctx), l.ID)
		return nil, err
	}
	return l, nil
}

// Get returns the caller's locker. Errors: not_found.
func (s *LockerService) Get(ctx context.Context, owner, id string) (*Locker, error) {
	return s.store.Lockers().GetForOwner(ctx, owner, id)
}

// List returns a page of the caller's external (managed false) or managed
// lockers. Errors: validation_error for a limit outside 1..200.
func (s *LockerService) List(ctx context.Context, owner, cursor string, limit int, managed bool) (Page[*Locker], error) {
	if err := CheckLimit(limit); err != nil {
		return Page[*Locker]{}, err
	}
	list, err := s.store.Lockers().List(ctx, LockerFilter{Owner: owner, Cursor: cursor, Limit: limit, Managed: managed})
	if err != nil {
		return Page[*Locker]{}, err
	}
	return newPage(list, limit, func(l *Locker) string { return l.ID }), nil
}

// Delete deletes a locker: its volume, then its row. An external locker
// still mounted by a live sandbox, or a managed one whose sandbox is live,
// is a conflict. Errors: not_found; conflict.
func (s *LockerService) Delete(ctx context.Context, owner, id string) error {
	l, err := s.store.Lockers().GetForOwner(ctx, owner, id)
	if err != nil {
		return err
	}
	if l.Managed && l.ManagedBySandboxID != "" {
		sb, err := s.store.Sandboxes().Get(ctx, l.ManagedBySandboxID)
		if err == nil && sb.DeletedAt == nil {
			return Conflict("Locker %s is managed by sandbox %s; delete the sandbox instead", id, sb.ID).
				WithDetails(map[string]any{"managed_by_sandbox_id": sb.ID})
		}
		if err != nil && CodeOf(err) != CodeNotFound {
			return err
		}
	}
	users, err := s.store.Sandboxes().ListByLocker(ctx, id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return Conflict("Locker %s is in use by %d sandbox(es)", id, len(users)).
			WithDetails(map[string]any{"active_sandbox_ids": users})
	}
	if err := s.runtime.DeleteVolume(ctx, id); err != nil {
		return err
	}
	if err := s.store.Lockers().Delete(ctx, id); err != nil && CodeOf(err) != CodeNotFound {
		return err
	}
	return nil
}

// ReadFile reads a UTF-8 text file straight from the locker's volume,
// without starting any sandbox. Errors: not_found; invalid_path;
// file_not_found; validation_error for a non-regular or non-UTF-8 file.
func (s *LockerService) ReadFile(ctx context.Context, owner, id, path string) (string, error) {
	l, err := s.store.Lockers().GetForOwner(ctx, owner, id)
	if err != nil {
		return "", err
	}
	p, err := NormalizePath("path", path)
	if err != nil {
		return "", err
	}
	if p == "." {
		return "", Invalid("Path is not a file: %s", path)
	}
	b, err := s.runtime.ReadVolumeFile(ctx, l.ID, p, s.maxFile)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", Invalid("File is not valid UTF-8 text: %s", p)
	}
	_ = s.store.Lockers().Touch(ctx, l.ID, s.clock.Now())
	return string(b), nil
}

// WriteFile writes a text file straight into the locker's volume, creating
// parents; the last writer wins. Errors: not_found; invalid_path;
// validation_error.
func (s *LockerService) WriteFile(ctx context.Context, owner, id, path, content string) error {
	l, err := s.store.Lockers().GetForOwner(ctx, owner, id)
	if err != nil {
		return err
	}
	p, err := NormalizePath("path", path)
	if err != nil {
		return err
	}
	if p == "." {
		return Invalid("Path is not a file: %s", path)
	}
	if err := s.runtime.WriteVolumeFile(ctx, l.ID, p, []byte(content)); err != nil {
		return err
	}
	_ = s.store.Lockers().Touch(ctx, l.ID, s.clock.Now())
	return nil
}

package core

import (
	"context"
	"regexp"
	"time"
)

// IdempotencyService replays the first successful response to a request
// made again with the same Idempotency-Key (lifecycle.md §9).
type IdempotencyService struct {
	store   Store
	clock   Clock
	ttl     time.Duration
	enabled bool
	keys    keyedMutex
}

// NewIdempotencyService returns an IdempotencyService. With enabled false
// the key is ignored entirely.
func NewIdempotencyService(store Store, clock Clock, ttl time.Duration, enabled bool) *IdempotencyService {
	return &IdempotencyService{store: store, clock: clock, ttl: ttl, enabled: enabled}
}

var idempotencyKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Do runs fn at most once per (owner, key) within the TTL. The fingerprint
// identifies the normalized request: the same key with the same fingerprint
// replays the stored status and body verbatim; with another fingerprint it is
// a conflict. Only successful responses (status < 400) are stored. key == ""
// means no key: fn just runs.
//
// Errors: conflict for a malformed key or a fingerprint mismatch; whatever fn
// returns.
func (s *IdempotencyService) Do(ctx context.Context, owner, key, fingerprint string,
	fn func(ctx context.Context) (int, []byte, error)) (int, []byte, error) {
	if !s.enabled || key == "" {
		return fn(ctx)
	}
	if !idempotencyKeyRE.MatchString(key) {
		return 0, nil, Conflict("Invalid Idempotency-Key format: must be 1-128 alphanumeric characters, dash, or underscore").
			WithDetails(map[string]any{"key": key})
	}
	// Requests with the same key wait for each other in this process, so
	// the second replays instead of creating a duplicate.
	unlock := s.keys.Lock(owner + "\x00" + key)
	defer unlock()

	rec, err := s.store.Idempotency().Get(ctx, owner, key)
	switch {
	case CodeOf(err) == CodeNotFound:
	case err != nil:
		return 0, nil, err
	case s.clock.Now().After(rec.ExpiresAt):
		if err := s.store.Idempotency().Delete(ctx, owner, key); err != nil {
			return 0, nil, err
		}
	case rec.Fingerprint != fingerprint:
		return 0, nil, Conflict("Idempotency key already used with different request parameters").
			WithDetails(map[string]any{"key": key, "hint": "Use a different Idempotency-Key for different request parameters"})
	default:
		return rec.StatusCode, rec.Response, nil
	}

	status, body, err := fn(ctx)
	if err != nil || status >= 400 {
		return status, body, err
	}
	now := s.clock.Now()
	// A concurrent request from another process may have stored the key
	// first: its record is kept and this request still returns its own
	// response.
	_, perr := s.store.Idempotency().Put(context.WithoutCancel(ctx), &IdempotencyRecord{
		Owner: owner, Key: key, Fingerprint: fingerprint, Response: body, StatusCode: status,
		CreatedAt: now, ExpiresAt: now.Add(s.ttl),
	})
	_ = perr // the response stands even if remembering it failed
	return status, body, nil
}

// PurgeExpired deletes expired records and returns how many.
func (s *IdempotencyService) PurgeExpired(ctx context.Context) (int64, error) {
	return s.store.Idempotency().DeleteExpired(ctx, s.clock.Now())
}

package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// RunIdempotencyStore tests a core.IdempotencyStore.
func RunIdempotencyStore(t *testing.T, h Harness) {
	ctx := context.Background()
	rec := func(owner, key string, expires time.Time) *core.IdempotencyRecord {
		return &core.IdempotencyRecord{
			Owner: owner, Key: key, Fingerprint: "fp-" + key,
			Response:   []byte(`{"id":"sandbox-0af541514707","status":"idle"}` + "\n"),
			StatusCode: 201, CreatedAt: base, ExpiresAt: expires,
		}
	}

	t.Run("PutGetKeepsFirst", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		first := rec("alice", "k1", at(time.Hour))
		stored, err := s.Idempotency().Put(ctx, first)
		require.NoError(t, err)
		require.True(t, stored)
		second := rec("alice", "k1", at(2*time.Hour))
		second.Fingerprint = "other"
		stored, err = s.Idempotency().Put(ctx, second)
		require.NoError(t, err)
		require.False(t, stored)
		got, err := s.Idempotency().Get(ctx, "alice", "k1")
		require.NoError(t, err)
		require.Equal(t, first, got)
	})

	t.Run("ScopedPerOwner", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		_, err := s.Idempotency().Put(ctx, rec("alice", "k", at(time.Hour)))
		require.NoError(t, err)
		_, err = s.Idempotency().Get(ctx, "bob", "k")
		requireCode(t, core.CodeNotFound, err)
		stored, err := s.Idempotency().Put(ctx, rec("bob", "k", at(time.Hour)))
		require.NoError(t, err)
		require.True(t, stored)
	})

	t.Run("DeleteAndMissing", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		_, err := s.Idempotency().Put(ctx, rec("alice", "k", at(time.Hour)))
		require.NoError(t, err)
		require.NoError(t, s.Idempotency().Delete(ctx, "alice", "k"))
		require.NoError(t, s.Idempotency().Delete(ctx, "alice", "k"), "deleting a missing record is fine")
		_, err = s.Idempotency().Get(ctx, "alice", "k")
		requireCode(t, core.CodeNotFound, err)
	})

	t.Run("DeleteExpiredOnlyExpired", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		for _, r := range []*core.IdempotencyRecord{
			rec("alice", "old", at(time.Minute)),
			rec("alice", "edge", at(time.Hour)),
			rec("alice", "new", at(2*time.Hour)),
		} {
			_, err := s.Idempotency().Put(ctx, r)
			require.NoError(t, err)
		}
		n, err := s.Idempotency().DeleteExpired(ctx, at(time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = s.Idempotency().Get(ctx, "alice", "old")
		requireCode(t, core.CodeNotFound, err)
		for _, k := range []string{"edge", "new"} {
			_, err = s.Idempotency().Get(ctx, "alice", k)
			require.NoError(t, err)
		}
	})

	t.Run("ResponseBytesExact", func(t *testing.T) {
		t.Parallel()
		s := h.New(t)
		for i, body := range [][]byte{{}, []byte("{}"), {0x00, 0xff, '\'', '"', '\n'}} {
			r := rec("alice", string(rune('a'+i)), at(time.Hour))
			r.Response = body
			_, err := s.Idempotency().Put(ctx, r)
			require.NoError(t, err)
			got, err := s.Idempotency().Get(ctx, "alice", r.Key)
			require.NoError(t, err)
			require.Equal(t, len(body), len(got.Response))
			if len(body) > 0 {
				require.Equal(t, body, got.Response)
			}
		}
	})
}

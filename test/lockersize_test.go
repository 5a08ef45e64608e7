package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// TestE2E_LockerSizeLimit: with locker.enforce_size_limits, a locker holds
// no more than its size limit: a write past it fails with ENOSPC inside the
// sandbox, what was written before is intact, deleting frees the space,
// and the locker's file system outlives the sandbox.
func TestE2E_LockerSizeLimit(t *testing.T) {
	t.Parallel()
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine, env: []string{"BAY_LOCKER__ENFORCE_SIZE_LIMITS=true"}})
			lr, err := b.C.CreateLockerWithResponse(bg, nil, oapigen.CreateLockerRequest{SizeLimitMb: ptr(int64(64))})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, lr.StatusCode(), "body: %s", lr.Body)
			locker := lr.JSON201.Id
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{LockerId: &locker})

			res := shell(t, b, sb.Id, "head -c 20000000 /dev/urandom > keep.bin && sha256sum keep.bin | cut -c1-64 && df -m /workspace | tail -1 | tr -s ' ' | cut -d' ' -f2", nil)
			lines := strings.Split(res.Output, "\n")
			require.Len(t, lines, 2, res.Output)
			sum := lines[0]
			require.Contains(t, []string{"62", "63", "64", "65", "66"}, lines[1], "the file system is the limit's size")

			res = shell(t, b, sb.Id, "dd if=/dev/zero of=big bs=1M count=100 2>&1; echo rc=$?", nil)
			require.Contains(t, res.Output, "No space left on device")
			require.Contains(t, res.Output, "rc=1")

			res = shell(t, b, sb.Id, "sha256sum keep.bin | cut -c1-64; rm big; dd if=/dev/zero of=again bs=1M count=30 >/dev/null 2>&1; echo rc=$?", nil)
			require.Equal(t, sum+"\nrc=0", res.Output, "earlier data intact; deleting frees the space")

			// The limit belongs to the locker, not to the sandbox.
			st, _, body := b.raw("DELETE", "/v1/sandboxes/"+sb.Id, nil)
			require.Equal(t, http.StatusNoContent, st, string(body))
			again := createSandbox(t, b, oapigen.CreateSandboxRequest{LockerId: &locker})
			res = shell(t, b, again.Id, "sha256sum keep.bin | cut -c1-64; dd if=/dev/zero of=big bs=1M count=100 2>&1; echo rc=$?", nil)
			require.True(t, strings.HasPrefix(res.Output, sum+"\n"), res.Output)
			require.Contains(t, res.Output, "No space left on device")

			st, _, body = b.raw("DELETE", "/v1/sandboxes/"+again.Id, nil)
			require.Equal(t, http.StatusNoContent, st, string(body))
			st, _, body = b.raw("DELETE", "/v1/lockers/"+locker, nil)
			require.Equal(t, http.StatusNoContent, st, string(body))
			require.False(t, volumeExists("bay-"+locker), "the locker's volume is gone")
			require.False(t, volumeExists("bay-"+locker+"-disk"), "and its file system")
		})
	}
}

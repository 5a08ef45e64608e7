package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// TestE2E_LockerSizeLimit: a locker created with a size limit holds no
// more than that (locker.enforce_size_limits: explicit, the default): a
// write past it fails with ENOSPC inside the sandbox and with 413 through
// the file API, what was written before is intact, deleting frees the
// space, and the file system outlives the sandbox. Managed lockers, sized
// by the default, stay plain volumes.
func TestE2E_LockerSizeLimit(t *testing.T) {
	t.Parallel()
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
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

			// Through the file API: a write that does not fit is 413 and
			// keeps the file it would have replaced.
			shell(t, b, sb.Id, "dd if=/dev/zero of=fill bs=1M count=36 2>/dev/null", nil)
			st, _, body := b.raw("POST", "/v1/lockers/"+locker+"/files/write", strings.NewReader(`{"path":"notes.txt","content":"v1"}`), "Content-Type", "application/json")
			require.Equal(t, http.StatusOK, st, string(body))
			big := `{"path":"notes.txt","content":"` + strings.Repeat("a", 12<<20) + `"}`
			st, hdr, body := b.raw("POST", "/v1/lockers/"+locker+"/files/write", strings.NewReader(big), "Content-Type", "application/json")
			d := envelope(t, st, hdr, body, http.StatusRequestEntityTooLarge, "payload_too_large")
			require.EqualValues(t, 64<<20, d["limit_bytes"])
			st, _, body = b.raw("POST", "/v1/lockers/"+locker+"/files/read", strings.NewReader(`{"path":"notes.txt"}`), "Content-Type", "application/json")
			require.Equal(t, http.StatusOK, st, string(body))
			require.JSONEq(t, `{"content":"v1"}`, string(body), "the old file is kept")
			shell(t, b, sb.Id, "rm fill", nil)

			res = shell(t, b, sb.Id, "dd if=/dev/zero of=big bs=1M count=100 2>&1; echo rc=$?", nil)
			require.Contains(t, res.Output, "No space left on device")
			require.Contains(t, res.Output, "rc=1")

			res = shell(t, b, sb.Id, "sha256sum keep.bin | cut -c1-64; rm big; dd if=/dev/zero of=again bs=1M count=30 >/dev/null 2>&1; echo rc=$?", nil)
			require.Equal(t, sum+"\nrc=0", res.Output, "earlier data intact; deleting frees the space")

			// The limit belongs to the locker, not to the sandbox.
			st, _, body = b.raw("DELETE", "/v1/sandboxes/"+sb.Id, nil)
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

			plain := createSandbox(t, b, oapigen.CreateSandboxRequest{})
			require.True(t, volumeExists("bay-"+*plain.LockerId))
			require.False(t, volumeExists("bay-"+*plain.LockerId+"-disk"), "a default-sized managed locker is a plain volume")
		})
	}
}

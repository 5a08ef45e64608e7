package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServer_ErrorAnswersReadOnlyWhenRefusing pins where an error answer may
// read the sandbox: only a capability call refused before it reaches the
// service, once, for the checks that come before its 422 (bay-api.md
// §7.4.1). Errors the service returned are written as they are.
func TestServer_ErrorAnswersReadOnlyWhenRefusing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.createSandbox(t, "", "python-default")
	checks := func(t *testing.T, method, path, body string, status int, header ...string) int64 {
		t.Helper()
		b.sandboxes.checks.Store(0)
		resp := b.do(t, method, path, strings.NewReader(body), header...)
		require.Equal(t, status, resp.StatusCode, string(readAll(t, resp)))
		return b.sandboxes.checks.Load()
	}
	require.EqualValues(t, 1, checks(t, "POST", "/v1/sandboxes/"+id+"/python/exec", `{"code":5}`, 422))
	require.EqualValues(t, 1, checks(t, "GET", "/v1/sandboxes/"+id+"/filesystem/files", ``, 422))
	require.EqualValues(t, 1, checks(t, "GET", "/v1/sandboxes/"+id+"/filesystem/files?path=", ``, 400))
	require.EqualValues(t, 0, checks(t, "POST", "/v1/sandboxes/"+id+"/extend_ttl", `{}`, 422))
	require.EqualValues(t, 0, checks(t, "POST", "/v1/sandboxes/"+id+"/python/exec", `{"code":"print(1)"}`, 200))
	require.EqualValues(t, 0, checks(t, "GET", "/v1/sandboxes/"+id+"/filesystem/files?path=/etc/passwd", ``, 400),
		"the service found the invalid path itself")
	// The file part is cut off after the service took the upload: the
	// service ran its checks, the 422 asks nothing more.
	truncated := "--X\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\na.txt\r\n" +
		"--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nhello"
	require.EqualValues(t, 0, checks(t, "POST", "/v1/sandboxes/"+id+"/filesystem/upload", truncated, 422,
		"Content-Type", "multipart/form-data; boundary=X"))
	// Missing parts are found before the service sees the upload.
	require.EqualValues(t, 1, checks(t, "POST", "/v1/sandboxes/"+id+"/filesystem/upload", "--X--\r\n", 422,
		"Content-Type", "multipart/form-data; boundary=X"))
}

package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func TestServer_ScopedKeys(t *testing.T) {
	t.Parallel()
	bobDigest := sha256.Sum256([]byte("bob-secret"))
	b := setup(t, func(o *Options) {
		o.AllowAnonymous = false
		o.APIKey = "legacy-secret"
		o.Keys = []APIKey{
			{Secret: "alice-secret", Owner: "alice", Scopes: []string{ScopeSandboxes}},
			{Secret: "sha256:" + hex.EncodeToString(bobDigest[:]), Owner: "bob", Scopes: AllScopes},
		}
	})
	call := func(method, path, token string) (*http.Response, []byte) {
		resp := b.do(t, method, path, nil, "Authorization", "Bearer "+token)
		return resp, readAll(t, resp)
	}

	// alice may use sandboxes, and nothing else.
	resp, body := call("POST", "/v1/sandboxes", "alice-secret")
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Len(t, b.listSandboxes(t, "alice"), 1, "the key's owner")
	for path, scope := range map[string]string{"/v1/lockers": ScopeLockers, "/v1/admin/gc/status": ScopeAdmin} {
		resp, body = call("GET", path, "alice-secret")
		env := requireError(t, resp, body, http.StatusForbidden, core.CodeForbidden)
		require.Equal(t, scope, env.Error.Details["scope"])
		require.Contains(t, env.Error.Message, scope)
	}

	// bob's key is configured by its digest only.
	for _, path := range []string{"/v1/lockers", "/v1/admin/gc/status", "/v1/sandboxes"} {
		resp, body = call("GET", path, "bob-secret")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	}
	resp, body = call("GET", "/v1/sandboxes", "bob-secret")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NotContains(t, string(body), "alice", "bob does not see alice's sandboxes")

	// The single api_key keeps every scope, as owner default.
	resp, body = call("GET", "/v1/admin/gc/status", "legacy-secret")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	for _, bad := range []string{"sha256:" + hex.EncodeToString(bobDigest[:]), "alice-secre", "Alice-secret", ""} {
		resp, body = call("GET", "/v1/sandboxes", bad)
		requireError(t, resp, body, http.StatusUnauthorized, core.CodeUnauthorized)
	}
}

func TestParseKeySecret(t *testing.T) {
	t.Parallel()
	d, err := ParseKeySecret("s3cret")
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256([]byte("s3cret")), d)
	sum := sha256.Sum256([]byte("x"))
	d, err = ParseKeySecret("sha256:" + hex.EncodeToString(sum[:]))
	require.NoError(t, err)
	require.Equal(t, sum, d)
	for _, bad := range []string{"", "sha256:", "sha256:abc", "sha256:" + hex.EncodeToString(sum[:]) + "00", "sha256:zz" + hex.EncodeToString(sum[1:])} {
		_, err := ParseKeySecret(bad)
		require.Error(t, err, bad)
	}
	require.NoError(t, CheckScopes(AllScopes))
	require.Error(t, CheckScopes([]string{"sandboxes", "root"}))
}

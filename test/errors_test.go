package test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// TestE2E_ErrorCodes walks every error code the contract raises through the
// real binary, on each database.
func TestE2E_ErrorCodes(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{})
			only := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("python-only-test")})
			inf := createSandbox(t, b, oapigen.CreateSandboxRequest{})
			jsonCT := []string{"Content-Type", "application/json"}
			post := func(path, body string, headers ...string) (int, http.Header, []byte) {
				return b.raw("POST", path, strings.NewReader(body), append(append([]string{}, jsonCT...), headers...)...)
			}

			// 400 validation_error: unknown profile, extend_by <= 0.
			st, h, body := post("/v1/sandboxes", `{"profile":"nope"}`)
			envelope(t, st, h, body, 400, "validation_error")
			require.Contains(t, string(body), "profile")
			st, h, body = post("/v1/sandboxes/"+inf.Id+"/extend_ttl", `{"extend_by":0}`)
			envelope(t, st, h, body, 400, "validation_error")

			// 422: JSON text must be UTF-8; nothing is created from it.
			st, h, body = post("/v1/sandboxes", "{\"a\": \"\xff\xfe\"}")
			envelope(t, st, h, body, 422, "validation_error")

			// 400 invalid_path, with field and reason.
			for path, reason := range map[string]string{"../etc/passwd": "path_traversal", "/etc/passwd": "absolute_path", "": "empty_path"} {
				st, h, body = b.raw("GET", "/v1/sandboxes/"+sb.Id+"/filesystem/files?path="+urlQuery(path), nil)
				d := envelope(t, st, h, body, 400, "invalid_path")
				require.Equal(t, map[string]any{"field": "path", "reason": reason}, d)
			}
			st, h, body = post("/v1/sandboxes/"+sb.Id+"/shell/exec", `{"command":"ls","cwd":""}`)
			d := envelope(t, st, h, body, 400, "invalid_path")
			require.Equal(t, "cwd", d["field"])

			// 400 capability_not_supported, before any container.
			st, h, body = post("/v1/sandboxes/"+only.Id+"/shell/exec", `{"command":"ls"}`)
			d = envelope(t, st, h, body, 400, "capability_not_supported")
			require.Equal(t, "shell", d["capability"])
			require.Equal(t, []any{"python"}, d["available"])
			require.Empty(t, containersOf(t, only.Id))

			// 404 not_found: unknown sandbox, another owner's, unknown route.
			st, h, body = b.raw("GET", "/v1/sandboxes/sandbox-000000000000", nil)
			envelope(t, st, h, body, 404, "not_found")
			st, h, body = b.raw("GET", "/v1/sandboxes/"+sb.Id, nil, "X-Owner", "someone-else")
			envelope(t, st, h, body, 404, "not_found")
			st, h, body = b.raw("GET", "/v1/nothing-here", nil)
			envelope(t, st, h, body, 404, "not_found")
			require.Contains(t, string(body), `"detail":"Not Found"`)
			// 404 beats 422 on capability routes.
			st, h, body = post("/v1/sandboxes/sandbox-000000000000/python/exec", `{"code":5}`)
			envelope(t, st, h, body, 404, "not_found")

			// 405 method_not_allowed.
			st, h, body = b.raw("PATCH", "/v1/sandboxes/"+sb.Id, nil)
			envelope(t, st, h, body, 405, "method_not_allowed")

			// 409 conflict: idempotency key format and reuse; managed locker.
			st, h, body = post("/v1/sandboxes", `{}`, "Idempotency-Key", "not a valid key!")
			envelope(t, st, h, body, 409, "conflict")
			st, _, first := post("/v1/sandboxes", `{"ttl":600}`, "Idempotency-Key", "key-1")
			require.Equal(t, 201, st)
			st, _, again := post("/v1/sandboxes", `{"ttl":"600"}`, "Idempotency-Key", "key-1")
			require.Equal(t, 201, st)
			require.Equal(t, first, again, "replayed byte for byte")
			st, h, body = post("/v1/sandboxes", `{"ttl":601}`, "Idempotency-Key", "key-1")
			envelope(t, st, h, body, 409, "conflict")
			st, h, body = post("/v1/sandboxes", `{"locker_id":"`+*sb.LockerId+`"}`)
			envelope(t, st, h, body, 409, "conflict")

			// 409 sandbox_ttl_infinite.
			st, h, body = post("/v1/sandboxes/"+inf.Id+"/extend_ttl", `{"extend_by":10}`)
			envelope(t, st, h, body, 409, "sandbox_ttl_infinite")

			// 422 validation_error with detail.
			for path, reqBody := range map[string]string{
				"/v1/sandboxes/" + sb.Id + "/python/exec": `{"code":"1","timeout":301}`,
				"/v1/sandboxes/" + sb.Id + "/extend_ttl":  `{}`,
				"/v1/sandboxes":                           `{"ttl":`,
			} {
				st, h, body = post(path, reqBody)
				envelope(t, st, h, body, 422, "validation_error")
				require.Contains(t, string(body), `"detail":[`)
			}
			st, h, body = b.raw("GET", "/v1/sandboxes?limit=0", nil)
			envelope(t, st, h, body, 422, "validation_error")

			// 413 payload_too_large.
			st, h, body = post("/v1/sandboxes/"+sb.Id+"/python/exec", `{"code":"`+strings.Repeat("x", 17<<20)+`"}`)
			d = envelope(t, st, h, body, 413, "payload_too_large")
			require.EqualValues(t, 16<<20, d["limit_bytes"])

			// 502 ship_error: reading a missing file (this starts the runtime).
			st, h, body = b.raw("GET", "/v1/sandboxes/"+sb.Id+"/filesystem/files?path=missing.txt", nil)
			envelope(t, st, h, body, 502, "ship_error")

			// 404 file_not_found on download.
			st, h, body = b.raw("GET", "/v1/sandboxes/"+sb.Id+"/filesystem/download?path=missing.bin", nil)
			envelope(t, st, h, body, 404, "file_not_found")

			// 500 internal_error: the profile's image does not exist.
			missing := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("missing-image")})
			st, h, body = post("/v1/sandboxes/"+missing.Id+"/python/exec", `{"code":"1"}`)
			envelope(t, st, h, body, 500, "internal_error")
			// The client gets a generic message; the operator's log says
			// how to provide the image, at start-up and on the failed call.
			require.Contains(t, b.logs.String(), "images/build.sh image bay-missing-image:none")
			require.Contains(t, b.logs.String(), `"msg":"image missing; sandboxes that need it fail until it is there","image":"bay-missing-image:none"`)
			got, err := b.C.GetSandboxWithResponse(bg, missing.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("failed"), got.JSON200.Status)

			// Profiles and health are public; everything has a request id.
			resp, err := http.Get(b.URL + "/v1/profiles")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			st, h, _ = b.raw("GET", "/health", nil, "X-Request-Id", "my-trace-1")
			require.Equal(t, 200, st)
			require.Equal(t, "my-trace-1", h.Get("X-Request-Id"))
		})
	}
}

// TestE2E_Auth is the behaviour matrix of bay-api.md §2 with a key set.
func TestE2E_Auth(t *testing.T) {
	requireImages(t)
	t.Parallel()
	b := startBay(t, bayOpts{engine: "sqlite", apiKey: "e2e-test-api-key"})
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", 401}, {"Bearer wrong", 401}, {"bearer e2e-test-api-key", 401}, {"Basic abc", 401},
		{"Bearer e2e-test-api-key", 200},
	} {
		req, err := http.NewRequest("GET", b.URL+"/v1/sandboxes", nil)
		require.NoError(t, err)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if tc.want == 401 {
			envelope(t, resp.StatusCode, resp.Header, buf.Bytes(), 401, "unauthorized")
		} else {
			require.Equal(t, 200, resp.StatusCode, tc.auth)
		}
	}
	list, err := b.C.ListSandboxesWithResponse(bg, nil)
	require.NoError(t, err)
	require.Equal(t, 200, list.StatusCode())
}

func urlQuery(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "%20", "/", "%2F", "#", "%23", "?", "%3F")
	return r.Replace(s)
}

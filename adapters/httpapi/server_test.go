package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

type testBundle struct {
	*services
	server  *Server
	http    *httptest.Server
	client  *oapigen.ClientWithResponses
	logs    *syncBuffer
	metrics *recordingMetrics
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type recordingMetrics struct {
	mu  sync.Mutex
	obs []string
}

func (m *recordingMetrics) ObserveRequest(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.obs = append(m.obs, fmt.Sprintf("%s %d", route, status))
}

var testNow = time.Date(2026, 1, 30, 7, 0, 0, 0, time.UTC)

// setup serves the real core services (see doubles_test.go) over HTTP.
func setup(t *testing.T, configure ...func(*Options)) *testBundle {
	t.Helper()
	b := &testBundle{
		services: newServices(t),
		logs:     &syncBuffer{},
		metrics:  &recordingMetrics{},
	}
	opts := Options{
		Sandboxes:          b.sandboxes,
		Executions:         b.execs,
		Lockers:            b.lockers,
		GC:                 b.gc,
		Idempotency:        b.idem,
		AllowAnonymous:     true,
		IdempotencyEnabled: true,
		Logger:             slog.New(slog.NewJSONHandler(b.logs, nil)),
		Metrics:            b.metrics,
	}
	for _, c := range configure {
		c(&opts)
	}
	b.server = New(opts)
	b.http = httptest.NewServer(b.server)
	t.Cleanup(b.http.Close)
	client, err := oapigen.NewClientWithResponses(b.http.URL, oapigen.WithHTTPClient(b.http.Client()))
	require.NoError(t, err)
	b.client = client
	return b
}

// do sends a raw request.
func (b *testBundle) do(t *testing.T, method, path string, body io.Reader, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.http.URL+path, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.http.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *testBundle) createSandbox(t *testing.T, owner, profile string) string {
	t.Helper()
	resp, err := b.client.CreateSandboxWithResponse(context.Background(), nil,
		oapigen.CreateSandboxRequest{Profile: &profile}, withOwner(owner))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return resp.JSON201.Id
}

// listSandboxes returns every sandbox of owner, through the service.
func (b *testBundle) listSandboxes(t *testing.T, owner string) []core.SandboxInfo {
	t.Helper()
	page, err := b.sandboxes.List(context.Background(), owner, "", core.MaxPageLimit, "")
	require.NoError(t, err)
	return page.Items
}

func withOwner(owner string) oapigen.RequestEditorFn {
	return func(ctx context.Context, req *http.Request) error {
		if owner != "" {
			req.Header.Set("X-Owner", owner)
		}
		return nil
	}
}

func withHeader(k, v string) oapigen.RequestEditorFn {
	return func(ctx context.Context, req *http.Request) error {
		req.Header.Set(k, v)
		return nil
	}
}

type testEnvelope struct {
	Error struct {
		Code      string         `json:"code"`
		Message   string         `json:"message"`
		RequestID string         `json:"request_id"`
		Details   map[string]any `json:"details"`
	} `json:"error"`
	Detail json.RawMessage `json:"detail"`
}

// requireError checks status, code, the envelope and X-Request-Id.
func requireError(t *testing.T, resp *http.Response, body []byte, status int, code core.Code) testEnvelope {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, string(body))
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var env testEnvelope
	require.NoError(t, json.Unmarshal(body, &env), string(body))
	require.Equal(t, string(code), env.Error.Code, string(body))
	require.NotEmpty(t, env.Error.Message)
	rid := resp.Header.Get("X-Request-Id")
	require.NotEmpty(t, rid)
	require.Equal(t, rid, env.Error.RequestID)
	var raw struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &raw))
	if d, ok := raw.Error["details"]; ok {
		require.NotEmpty(t, d, "empty details must be omitted")
	}
	return env
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestServer_ErrorCodes(t *testing.T) {
	t.Parallel()
	want := map[core.Code]int{
		core.CodeValidation: 400, core.CodeInvalidPath: 400, core.CodeCapabilityNotSupported: 400,
		core.CodeUnauthorized: 401, core.CodeForbidden: 403, core.CodeNotFound: 404, core.CodeFileNotFound: 404,
		core.CodeMethodNotAllowed: 405, core.CodeConflict: 409, core.CodeSandboxExpired: 409,
		core.CodeSandboxTTLInfinite: 409, core.CodePayloadTooLarge: 413, core.CodeGCRunning: 423,
		core.CodeQuotaExceeded: 429, core.CodeInternal: 500, core.CodeShipError: 502,
		core.CodeSessionNotReady: 503, core.CodeTimeout: 504, core.CodeUpgradeRequired: 426,
		core.CodeServiceUnavailable: 503,
	}
	require.Len(t, want, len(core.Codes))
	b := setup(t)
	for _, code := range core.Codes {
		t.Run(string(code), func(t *testing.T) {
			id := b.createSandbox(t, "", "python-default")
			b.sandboxes.mu.Lock()
			b.sandboxes.fail[id] = core.Errorf(code, "message for %s", code).
				WithDetails(map[string]any{"sandbox_id": id, "retry_after_ms": 1500})
			b.sandboxes.mu.Unlock()
			resp, err := b.client.GetSandboxWithResponse(context.Background(), id, withHeader("X-Request-Id", "rid-"+string(code)))
			require.NoError(t, err)
			env := requireError(t, resp.HTTPResponse, resp.Body, want[code], code)
			require.Equal(t, "rid-"+string(code), env.Error.RequestID)
			require.Equal(t, want[code], StatusOf(code))
			switch code {
			case core.CodeInternal:
				require.Equal(t, "An internal error occurred", env.Error.Message)
				require.Nil(t, env.Error.Details)
			case core.CodeSessionNotReady, core.CodeServiceUnavailable:
				require.Equal(t, "2", resp.HTTPResponse.Header.Get("Retry-After"))
				require.Equal(t, id, env.Error.Details["sandbox_id"])
			case core.CodeGCRunning:
				require.JSONEq(t, `"GC is already running. Please wait for the current cycle to complete."`, string(env.Detail))
			default:
				require.Equal(t, "message for "+string(code), env.Error.Message)
				require.Equal(t, id, env.Error.Details["sandbox_id"])
			}
		})
	}
	t.Run("PlainErrorIsGenericInternal", func(t *testing.T) {
		id := b.createSandbox(t, "", "python-default")
		b.sandboxes.mu.Lock()
		b.sandboxes.fail[id] = fmt.Errorf("dial docker: %w", errors.New("secret socket /var/run/x.sock"))
		b.sandboxes.mu.Unlock()
		resp, err := b.client.GetSandboxWithResponse(context.Background(), id)
		require.NoError(t, err)
		env := requireError(t, resp.HTTPResponse, resp.Body, 500, core.CodeInternal)
		require.NotContains(t, string(resp.Body), "secret")
		require.Contains(t, b.logs.String(), "secret socket")
		require.Contains(t, b.logs.String(), env.Error.RequestID)
	})
	t.Run("RetryAfterDefault", func(t *testing.T) {
		id := b.createSandbox(t, "", "python-default")
		b.sandboxes.mu.Lock()
		b.sandboxes.fail[id] = core.Errorf(core.CodeSessionNotReady, "Runtime failed to become ready")
		b.sandboxes.mu.Unlock()
		resp := b.do(t, "GET", "/v1/sandboxes/"+id, nil)
		requireError(t, resp, readAll(t, resp), 503, core.CodeSessionNotReady)
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
	})
}

func TestServer_Auth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		apiKey                   string
		anonymous                bool
		noHeader, correct, wrong int
	}{
		{"", true, 200, 200, 200},
		{"", false, 401, 401, 401},
		{"secret", true, 200, 200, 401},
		{"secret", false, 401, 200, 401},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("key=%q/anonymous=%v", c.apiKey, c.anonymous), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *Options) { o.APIKey = c.apiKey; o.AllowAnonymous = c.anonymous })
			check := func(want int, header ...string) {
				t.Helper()
				resp := b.do(t, "GET", "/v1/sandboxes", nil, header...)
				body := readAll(t, resp)
				if want == 401 {
					env := requireError(t, resp, body, 401, core.CodeUnauthorized)
					require.Equal(t, `Bearer realm="bay"`, resp.Header.Get("WWW-Authenticate"))
					if c.apiKey != "" && len(header) > 0 && strings.HasPrefix(header[1], "Bearer ") {
						require.Equal(t, "Invalid API key", env.Error.Message)
					} else {
						require.Equal(t, "Authentication required", env.Error.Message)
					}
					return
				}
				require.Equal(t, want, resp.StatusCode, string(body))
			}
			check(c.noHeader)
			check(c.correct, "Authorization", "Bearer secret")
			check(c.wrong, "Authorization", "Bearer nope")
			// Anything but the exact "Bearer " prefix is no token at all.
			for _, h := range []string{"bearer secret", "Basic c2VjcmV0", "Bearersecret", "Bearer"} {
				check(c.noHeader, "Authorization", h)
			}
			// Public endpoints never need credentials.
			for _, p := range []string{"/health", "/v1/profiles", "/openapi.json", "/docs"} {
				resp := b.do(t, "GET", p, nil, "Authorization", "Bearer nope")
				require.Equal(t, 200, resp.StatusCode, p)
			}
		})
	}
	t.Run("OwnerIsolation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.createSandbox(t, "alice", "python-default")
		resp, err := b.client.GetSandboxWithResponse(context.Background(), id, withOwner("bob"))
		require.NoError(t, err)
		requireError(t, resp.HTTPResponse, resp.Body, 404, core.CodeNotFound)
		resp, err = b.client.GetSandboxWithResponse(context.Background(), id, withOwner("alice"))
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode())
		// A Bearer token wins over X-Owner: the owner is "default".
		resp, err = b.client.GetSandboxWithResponse(context.Background(), id, withOwner("alice"), withHeader("Authorization", "Bearer any"))
		require.NoError(t, err)
		require.Equal(t, 404, resp.StatusCode())
	})
	t.Run("OwnerTooLong", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		resp := b.do(t, "GET", "/v1/sandboxes", nil, "X-Owner", strings.Repeat("o", 257))
		requireError(t, resp, readAll(t, resp), 400, core.CodeValidation)
		resp = b.do(t, "GET", "/v1/sandboxes", nil, "X-Owner", strings.Repeat("o", 256))
		require.Equal(t, 200, resp.StatusCode)
	})
	t.Run("AuthBeforeShape", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *Options) { o.APIKey = "secret"; o.AllowAnonymous = false })
		resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader("{not json"))
		requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
		resp = b.do(t, "GET", "/v1/sandboxes/x/filesystem/files", nil)
		requireError(t, resp, readAll(t, resp), 401, core.CodeUnauthorized)
	})
}

func TestServer_RequestID(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.MaxBodyBytes = 64 })
	id := b.createSandbox(t, "", "python-default")
	b.sandboxes.mu.Lock()
	b.sandboxes.panicOn["sandbox-boom"] = true
	b.sandboxes.mu.Unlock()
	requests := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/health", "", 200},
		{"GET", "/v1/sandboxes/" + id, "", 200},
		{"DELETE", "/v1/lockers/locker-missing", "", 404},
		{"GET", "/nope", "", 404},
		{"PATCH", "/v1/sandboxes", "", 405},
		{"POST", "/v1/sandboxes", `{"profile":"` + strings.Repeat("x", 100) + `"}`, 413},
		{"POST", "/v1/sandboxes", `{"ttl":"x"}`, 422},
		{"GET", "/v1/sandboxes/sandbox-boom", "", 500},
	}
	for _, r := range requests {
		resp := b.do(t, r.method, r.path, strings.NewReader(r.body), "X-Request-Id", "client-id-1")
		require.Equal(t, r.status, resp.StatusCode, r.path)
		require.Equal(t, "client-id-1", resp.Header.Get("X-Request-Id"), r.path)
		resp = b.do(t, r.method, r.path, strings.NewReader(r.body))
		require.Regexp(t, uuidV4, resp.Header.Get("X-Request-Id"), r.path)
	}
}

func TestServer_Framework(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	t.Run("NotFound", func(t *testing.T) {
		for _, p := range []string{"/nope", "/v1/sandboxes/x/shell/processes", "/stats", "/V1/sandboxes", "/v1/sandboxes/x/kernel"} {
			resp := b.do(t, "GET", p, nil)
			env := requireError(t, resp, readAll(t, resp), 404, core.CodeNotFound)
			require.JSONEq(t, `"Not Found"`, string(env.Detail))
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		resp := b.do(t, "PUT", "/v1/sandboxes", nil)
		env := requireError(t, resp, readAll(t, resp), 405, core.CodeMethodNotAllowed)
		require.JSONEq(t, `"Method Not Allowed"`, string(env.Detail))
		require.Contains(t, resp.Header.Get("Allow"), "POST")
	})
	t.Run("PayloadTooLarge", func(t *testing.T) {
		big := `{"profile":"` + strings.Repeat("x", 2000) + `"}`
		resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader(big))
		env := requireError(t, resp, readAll(t, resp), 413, core.CodePayloadTooLarge)
		require.EqualValues(t, 1024, env.Error.Details["limit_bytes"])
		// Without a Content-Length the limit still holds while reading.
		resp = b.do(t, "POST", "/v1/sandboxes", io.MultiReader(strings.NewReader(big)), "Transfer-Encoding", "chunked")
		requireError(t, resp, readAll(t, resp), 413, core.CodePayloadTooLarge)
	})
	t.Run("Panic", func(t *testing.T) {
		b.sandboxes.mu.Lock()
		b.sandboxes.panicOn["sandbox-panic"] = true
		b.sandboxes.mu.Unlock()
		resp := b.do(t, "GET", "/v1/sandboxes/sandbox-panic", nil)
		body := readAll(t, resp)
		env := requireError(t, resp, body, 500, core.CodeInternal)
		require.NotContains(t, string(body), "secret internals")
		require.Contains(t, b.logs.String(), "secret internals")
		require.Contains(t, b.logs.String(), env.Error.RequestID)
	})
}

func TestServer_ShapeErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.createSandbox(t, "", "python-default")
	lockerResp, err := b.client.CreateLockerWithResponse(context.Background(), nil, oapigen.CreateLockerRequest{})
	require.NoError(t, err)
	lockerID := lockerResp.JSON201.Id
	cases := []struct {
		name, method, path, body string
		loc                      []any
		typ                      string
	}{
		{"MissingField", "POST", "/v1/sandboxes/" + id + "/extend_ttl", `{}`, []any{"body", "extend_by"}, "missing"},
		{"EmptyBodyWhereRequired", "POST", "/v1/sandboxes/" + id + "/extend_ttl", ``, []any{"body"}, "missing"},
		{"NotAnInteger", "POST", "/v1/sandboxes/" + id + "/extend_ttl", `{"extend_by":"abc"}`, []any{"body", "extend_by"}, "int_parsing"},
		{"FractionalInteger", "POST", "/v1/sandboxes/" + id + "/extend_ttl", `{"extend_by":1.5}`, []any{"body", "extend_by"}, "int_from_float"},
		{"IntegerOverflow", "POST", "/v1/sandboxes/" + id + "/extend_ttl", `{"extend_by":1e300}`, []any{"body", "extend_by"}, "int_parsing"},
		{"BoolIsNotInteger", "POST", "/v1/sandboxes", `{"ttl":true}`, []any{"body", "ttl"}, "int_type"},
		{"MalformedJSON", "POST", "/v1/sandboxes", `{"profile":`, []any{"body"}, "json_invalid"},
		{"SyntaxError", "POST", "/v1/sandboxes", `{"profile" 1}`, []any{"body", float64(12)}, "json_invalid"},
		{"TrailingData", "POST", "/v1/sandboxes", `{} {}`, []any{"body", float64(2)}, "json_invalid"},
		{"InvalidUTF8", "POST", "/v1/sandboxes", "{\"profile\": \"\xff\xfe\"}", []any{"body", float64(13)}, "json_invalid"},
		{"InvalidUTF8InCode", "POST", "/v1/sandboxes/" + id + "/python/exec", "{\"code\":\"print('\xc3')\"}", []any{"body", float64(16)}, "json_invalid"},
		{"NotAnObject", "POST", "/v1/sandboxes", `[1]`, []any{"body"}, "model_attributes_type"},
		{"StringRejectsNumber", "POST", "/v1/sandboxes/" + id + "/python/exec", `{"code":5}`, []any{"body", "code"}, "string_type"},
		{"TimeoutTooBig", "POST", "/v1/sandboxes/" + id + "/python/exec", `{"code":"1","timeout":301}`, []any{"body", "timeout"}, "less_than_equal"},
		{"TimeoutZero", "POST", "/v1/sandboxes/" + id + "/shell/exec", `{"command":"pwd","timeout":0}`, []any{"body", "timeout"}, "greater_than_equal"},
		{"NullNotAllowed", "POST", "/v1/sandboxes/" + id + "/shell/exec", `{"command":null}`, []any{"body", "command"}, "string_type"},
		{"SizeLimitZero", "POST", "/v1/lockers", `{"size_limit_mb":0}`, []any{"body", "size_limit_mb"}, "greater_than_equal"},
		{"SizeLimitTooBig", "POST", "/v1/lockers", `{"size_limit_mb":65537}`, []any{"body", "size_limit_mb"}, "less_than_equal"},
		{"LimitZero", "GET", "/v1/sandboxes?limit=0", ``, []any{"query", "limit"}, "greater_than_equal"},
		{"LimitTooBig", "GET", "/v1/lockers?limit=201", ``, []any{"query", "limit"}, "less_than_equal"},
		{"LimitNotInteger", "GET", "/v1/sandboxes?limit=abc", ``, []any{"query", "limit"}, "int_parsing"},
		{"ManagedNotBoolean", "GET", "/v1/lockers?managed=maybe", ``, []any{"query", "managed"}, "bool_parsing"},
		{"MissingQuery", "GET", "/v1/sandboxes/" + id + "/filesystem/files", ``, []any{"query", "path"}, "missing"},
		{"MissingWriteContent", "PUT", "/v1/sandboxes/" + id + "/filesystem/files", `{"path":"a"}`, []any{"body", "content"}, "missing"},
		{"TasksNotList", "POST", "/v1/admin/gc/run", `{"tasks":"idle_session"}`, []any{"body", "tasks"}, "list_type"},
		{"LockerReadMissingPath", "POST", "/v1/lockers/" + lockerID + "/files/read", `{}`, []any{"body", "path"}, "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := b.do(t, c.method, c.path, strings.NewReader(c.body), "Content-Type", "application/json")
			body := readAll(t, resp)
			env := requireError(t, resp, body, 422, core.CodeValidation)
			var detail []oapigen.ValidationErrorItem
			require.NoError(t, json.Unmarshal(env.Detail, &detail), string(body))
			require.NotEmpty(t, detail)
			require.Equal(t, c.loc, detail[0].Loc, string(body))
			require.Equal(t, c.typ, detail[0].Type, string(body))
			require.NotEmpty(t, detail[0].Msg)
			require.Len(t, env.Error.Details["errors"], len(detail))
		})
	}
	t.Run("LenientIntegers", func(t *testing.T) {
		for _, timeout := range []string{`30`, `30.0`, `"30"`, `" 7 "`, `3e1`} {
			resp := b.do(t, "POST", "/v1/sandboxes/"+id+"/python/exec", strings.NewReader(`{"code":"print(1)","timeout":`+timeout+`}`))
			require.Equal(t, 200, resp.StatusCode, timeout+": "+string(readAll(t, resp)))
		}
	})
	t.Run("EmptyBodyIsEmptyObject", func(t *testing.T) {
		for _, p := range []string{"/v1/sandboxes", "/v1/lockers"} {
			resp := b.do(t, "POST", p, nil)
			require.Equal(t, 201, resp.StatusCode, p)
		}
		resp := b.do(t, "POST", "/v1/admin/gc/run", strings.NewReader("  "))
		require.Equal(t, 200, resp.StatusCode)
	})
	t.Run("UnknownFieldsIgnored", func(t *testing.T) {
		resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{"profile":"python-only","color":"blue"}`))
		require.Equal(t, 201, resp.StatusCode)
	})
	t.Run("BusinessValidationIs400", func(t *testing.T) {
		resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{"profile":"nope"}`))
		env := requireError(t, resp, readAll(t, resp), 400, core.CodeValidation)
		require.Contains(t, env.Error.Message, "profile")
		resp = b.do(t, "POST", "/v1/sandboxes/"+id+"/extend_ttl", strings.NewReader(`{"extend_by":0}`))
		requireError(t, resp, readAll(t, resp), 400, core.CodeValidation)
	})
}

func TestServer_CapabilityOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	full := b.createSandbox(t, "", "python-default")
	pyOnly := b.createSandbox(t, "", "python-only")
	foreign := b.createSandbox(t, "mallory", "python-default")
	t.Run("NotFoundBeatsShape", func(t *testing.T) {
		for _, sb := range []string{"sandbox-missing", foreign} {
			resp := b.do(t, "POST", "/v1/sandboxes/"+sb+"/python/exec", strings.NewReader(`{"code":5}`))
			requireError(t, resp, readAll(t, resp), 404, core.CodeNotFound)
			resp = b.do(t, "GET", "/v1/sandboxes/"+sb+"/filesystem/files", nil)
			requireError(t, resp, readAll(t, resp), 404, core.CodeNotFound)
			resp = b.do(t, "POST", "/v1/sandboxes/"+sb+"/filesystem/upload", strings.NewReader("x"), "Content-Type", "text/plain")
			requireError(t, resp, readAll(t, resp), 404, core.CodeNotFound)
		}
	})
	t.Run("CapabilityBeatsShape", func(t *testing.T) {
		resp := b.do(t, "POST", "/v1/sandboxes/"+pyOnly+"/shell/exec", strings.NewReader(`{not json`))
		env := requireError(t, resp, readAll(t, resp), 400, core.CodeCapabilityNotSupported)
		require.Equal(t, "shell", env.Error.Details["capability"])
		require.Equal(t, []any{"python"}, env.Error.Details["available"])
		resp = b.do(t, "GET", "/v1/sandboxes/"+pyOnly+"/filesystem/download", nil)
		requireError(t, resp, readAll(t, resp), 400, core.CodeCapabilityNotSupported)
	})
	t.Run("ShapeBeatsPath", func(t *testing.T) {
		resp := b.do(t, "POST", "/v1/sandboxes/"+full+"/shell/exec", strings.NewReader(`{"command":"pwd","cwd":"/etc","timeout":0}`))
		requireError(t, resp, readAll(t, resp), 422, core.CodeValidation)
	})
	t.Run("InvalidPath", func(t *testing.T) {
		for p, reason := range map[string]string{"": "empty_path", "/etc/passwd": "absolute_path", "../x": "path_traversal", "a%00b": "null_byte"} {
			resp := b.do(t, "GET", "/v1/sandboxes/"+full+"/filesystem/files?path="+p, nil)
			env := requireError(t, resp, readAll(t, resp), 400, core.CodeInvalidPath)
			require.Equal(t, reason, env.Error.Details["reason"], p)
			require.Equal(t, "path", env.Error.Details["field"])
		}
		resp := b.do(t, "POST", "/v1/sandboxes/"+full+"/shell/exec", strings.NewReader(`{"command":"pwd","cwd":""}`))
		env := requireError(t, resp, readAll(t, resp), 400, core.CodeInvalidPath)
		require.Equal(t, "cwd", env.Error.Details["field"])
		// An empty path on a sandbox without the capability still answers 400 capability first.
		resp = b.do(t, "GET", "/v1/sandboxes/"+pyOnly+"/filesystem/files?path=", nil)
		requireError(t, resp, readAll(t, resp), 400, core.CodeCapabilityNotSupported)
		resp = b.do(t, "GET", "/v1/sandboxes/sandbox-missing/filesystem/files?path=", nil)
		requireError(t, resp, readAll(t, resp), 404, core.CodeNotFound)
	})
	t.Run("Expired", func(t *testing.T) {
		ttl := int64(60)
		created, err := b.client.CreateSandboxWithResponse(context.Background(), nil, oapigen.CreateSandboxRequest{Ttl: &ttl})
		require.NoError(t, err)
		id := created.JSON201.Id
		b.clock.Advance(time.Hour)
		resp := b.do(t, "POST", "/v1/sandboxes/"+id+"/python/exec", strings.NewReader(`{"code":"print(1)"}`))
		requireError(t, resp, readAll(t, resp), 409, core.CodeSandboxExpired)
	})
}

func TestServer_Sandboxes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ttl := int64(3600)
	created, err := b.client.CreateSandboxWithResponse(ctx, nil, oapigen.CreateSandboxRequest{Ttl: &ttl})
	require.NoError(t, err)
	require.Equal(t, 201, created.StatusCode())
	ts := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(created.Body, &raw))
	require.Regexp(t, ts, raw["created_at"])
	require.Equal(t, "2026-01-30T07:00:00.000000Z", raw["created_at"])
	require.Equal(t, "2026-01-30T08:00:00.000000Z", raw["expires_at"])
	require.Nil(t, raw["idle_expires_at"])
	require.Nil(t, raw["stop_reason"])
	require.Contains(t, raw, "stop_reason")
	require.Equal(t, false, raw["paused"], "always present")
	sb := created.JSON201
	require.Equal(t, oapigen.SandboxStatusIdle, sb.Status)
	require.Equal(t, "python-default", sb.Profile)
	require.Equal(t, []string{"filesystem", "shell", "python"}, sb.Capabilities)
	require.True(t, sb.ExpiresAt.Time().Equal(testNow.Add(time.Hour)))

	ext, err := b.client.ExtendSandboxTTLWithResponse(ctx, sb.Id, nil, oapigen.ExtendTTLRequest{ExtendBy: 600})
	require.NoError(t, err)
	require.Equal(t, 200, ext.StatusCode())
	require.Equal(t, "2026-01-30T08:10:00.000000Z", ext.JSON200.ExpiresAt.String())

	other := b.createSandbox(t, "", "python-default")
	ext, err = b.client.ExtendSandboxTTLWithResponse(ctx, other, nil, oapigen.ExtendTTLRequest{ExtendBy: 600})
	require.NoError(t, err)
	requireError(t, ext.HTTPResponse, ext.Body, 409, core.CodeSandboxTTLInfinite)

	_, err = b.client.ExecPythonWithResponse(ctx, sb.Id, oapigen.PythonExecRequest{Code: "print(1)"}) // compute to stop
	require.NoError(t, err)
	ka, err := b.client.KeepaliveSandboxWithResponse(ctx, sb.Id)
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"ok"}`, string(ka.Body))
	st, err := b.client.StopSandboxWithResponse(ctx, sb.Id)
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"stopped"}`, string(st.Body))
	got, err := b.client.GetSandboxWithResponse(ctx, sb.Id)
	require.NoError(t, err)
	require.Equal(t, oapigen.StopReasonUser, *got.JSON200.StopReason)

	limit := 1
	page, err := b.client.ListSandboxesWithResponse(ctx, &oapigen.ListSandboxesParams{Limit: &limit})
	require.NoError(t, err)
	require.Len(t, page.JSON200.Items, 1)
	require.NotNil(t, page.JSON200.NextCursor)
	page, err = b.client.ListSandboxesWithResponse(ctx, &oapigen.ListSandboxesParams{Cursor: page.JSON200.NextCursor})
	require.NoError(t, err)
	require.Len(t, page.JSON200.Items, 1)
	require.Nil(t, page.JSON200.NextCursor)

	del, err := b.client.DeleteSandboxWithResponse(ctx, sb.Id)
	require.NoError(t, err)
	require.Equal(t, 204, del.StatusCode())
	require.Empty(t, del.Body)
	require.NotEmpty(t, del.HTTPResponse.Header.Get("X-Request-Id"))
	del, err = b.client.DeleteSandboxWithResponse(ctx, sb.Id)
	require.NoError(t, err)
	requireError(t, del.HTTPResponse, del.Body, 404, core.CodeNotFound)

	prof, err := b.client.ListProfilesWithResponse(ctx)
	require.NoError(t, err)
	require.Len(t, prof.JSON200.Items, 2)
	require.EqualValues(t, 1800, prof.JSON200.Items[0].IdleTimeout)
	require.Zero(t, prof.JSON200.Items[0].IdlePause)
	require.EqualValues(t, 20, prof.JSON200.Items[1].IdlePause)
	require.Equal(t, "1g", prof.JSON200.Items[0].Resources.Memory)
	require.Equal(t, oapigen.NetworkOpen, prof.JSON200.Items[0].Network, "open when the profile sets nothing")
	require.Equal(t, oapigen.NetworkAllowlist, prof.JSON200.Items[1].Network)
	require.NotContains(t, string(prof.Body), "internal.example", "the public profile list does not show the allowlist")

	h, err := b.client.GetHealthWithResponse(ctx)
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"ok"}`, string(h.Body))
}

func TestServer_Capabilities(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := b.createSandbox(t, "", "python-default")

	py, err := b.client.ExecPythonWithResponse(ctx, id, oapigen.PythonExecRequest{Code: "print(<b>&</b>)"})
	require.NoError(t, err)
	require.Equal(t, 200, py.StatusCode(), string(py.Body))
	require.Contains(t, string(py.Body), `"output":"<b>&</b>"`, "no HTML escaping")
	require.True(t, py.JSON200.Success)
	require.False(t, py.JSON200.Data.KernelRestarted)
	require.Contains(t, string(py.Body), `"kernel_restarted":false`)
	require.EqualValues(t, 1, *py.JSON200.Data.ExecutionCount)
	py, err = b.client.ExecPythonWithResponse(ctx, id, oapigen.PythonExecRequest{Code: "boom"})
	require.NoError(t, err)
	require.False(t, py.JSON200.Success)
	require.Equal(t, "NameError: boom", *py.JSON200.Error)

	cwd := "sub/../sub"
	sh, err := b.client.ExecShellWithResponse(ctx, id, oapigen.ShellExecRequest{Command: "pwd", Cwd: &cwd})
	require.NoError(t, err)
	require.Equal(t, "/workspace/sub", sh.JSON200.Output)
	sh, err = b.client.ExecShellWithResponse(ctx, id, oapigen.ShellExecRequest{Command: "foo"})
	require.NoError(t, err)
	require.EqualValues(t, 127, *sh.JSON200.ExitCode)

	wr, err := b.client.WriteFileWithResponse(ctx, id, oapigen.WriteFileRequest{Path: "dir/a.txt", Content: "hello"})
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"ok"}`, string(wr.Body))
	rd, err := b.client.ReadFileWithResponse(ctx, id, &oapigen.ReadFileParams{Path: "dir/./a.txt"})
	require.NoError(t, err)
	require.Equal(t, "hello", rd.JSON200.Content)
	dir := "dir"
	ls, err := b.client.ListDirectoryWithResponse(ctx, id, &oapigen.ListDirectoryParams{Path: &dir})
	require.NoError(t, err)
	require.Len(t, ls.JSON200.Entries, 1)
	require.Equal(t, "/workspace/dir/a.txt", ls.JSON200.Entries[0].Path)
	rm, err := b.client.DeleteFileWithResponse(ctx, id, &oapigen.DeleteFileParams{Path: "dir/a.txt"})
	require.NoError(t, err)
	require.Equal(t, 200, rm.StatusCode())
	rm, err = b.client.DeleteFileWithResponse(ctx, id, &oapigen.DeleteFileParams{Path: "dir/a.txt"})
	require.NoError(t, err)
	requireError(t, rm.HTTPResponse, rm.Body, 502, core.CodeShipError)
}

func TestServer_Download(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := b.createSandbox(t, "", "python-default")
	for name, want := range map[string]string{
		"data/report.csv":    `attachment; filename="report.csv"`,
		"données/résumé.txt": `attachment; filename="r_sum_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt`,
		`q/say"hi".txt`:      `attachment; filename="say_hi_.txt"; filename*=UTF-8''say%22hi%22.txt`,
	} {
		_, err := b.client.WriteFileWithResponse(ctx, id, oapigen.WriteFileRequest{Path: name, Content: "a,b\n1,2\n"})
		require.NoError(t, err)
		resp, err := b.client.DownloadFileWithResponse(ctx, id, &oapigen.DownloadFileParams{Path: name})
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode())
		h := resp.HTTPResponse.Header
		require.Equal(t, "application/octet-stream", h.Get("Content-Type"))
		require.Equal(t, want, h.Get("Content-Disposition"))
		require.Equal(t, "8", h.Get("Content-Length"))
		require.NotEmpty(t, h.Get("X-Request-Id"))
		require.Equal(t, "a,b\n1,2\n", string(resp.Body))
	}
	resp, err := b.client.DownloadFileWithResponse(ctx, id, &oapigen.DownloadFileParams{Path: "missing.bin"})
	require.NoError(t, err)
	env := requireError(t, resp.HTTPResponse, resp.Body, 404, core.CodeFileNotFound)
	require.Equal(t, "File not found: missing.bin", env.Error.Message)
	require.Empty(t, resp.HTTPResponse.Header.Get("Content-Disposition"))
}

// multipartBody streams a multipart upload of size zero bytes through a
// pipe, so the client never holds it either.
func multipartBody(t *testing.T, size int64, fields ...string) (io.Reader, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, f := range fields {
				switch f {
				case "file":
					part, err := mw.CreateFormFile("file", "ignored.bin")
					if err != nil {
						return err
					}
					chunk := make([]byte, 64<<10)
					for left := size; left > 0; {
						n := min(left, int64(len(chunk)))
						if _, err := part.Write(chunk[:n]); err != nil {
							return err
						}
						left -= n
					}
				default:
					name, value, _ := strings.Cut(f, "=")
					if err := mw.WriteField(name, value); err != nil {
						return err
					}
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestServer_Upload is not parallel: it measures the heap, which other
// tests running beside it would fill (seen under load).
func TestServer_Upload(t *testing.T) {
	const size = 50 << 20
	b := setup(t, func(o *Options) { o.MaxUploadBytes = 64 << 20 })
	ctx := context.Background()
	id := b.createSandbox(t, "", "python-default")
	upload := func(t *testing.T, size int64, fields ...string) (*http.Response, []byte) {
		t.Helper()
		body, ct := multipartBody(t, size, fields...)
		resp, err := b.client.UploadFileWithBody(ctx, id, ct, body)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp, readAll(t, resp)
	}
	lastUpload := func() uploadCall {
		b.ship.mu.Lock()
		defer b.ship.mu.Unlock()
		return b.ship.uploads[len(b.ship.uploads)-1]
	}
	t.Run("PathFirstStreams", func(t *testing.T) {
		runtime.GC()
		before := heapInuse()
		resp, body := upload(t, size, "path=sub/../big.bin", "file")
		require.Equal(t, 200, resp.StatusCode, string(body))
		require.JSONEq(t, fmt.Sprintf(`{"status":"ok","path":"big.bin","size":%d}`, size), string(body))
		call := lastUpload()
		require.EqualValues(t, size, call.bytes)
		require.NotEqual(t, "*bytes.Reader", call.readerType)
		require.NotEqual(t, "*os.File", call.readerType, "path first must not spool")
		// The whole 50 MB never sat in memory at once.
		require.Less(t, int64(call.heapInuse)-int64(before), int64(size/4))
	})
	t.Run("FileFirstSpools", func(t *testing.T) {
		resp, body := upload(t, 3<<20, "file", "path=late.bin")
		require.Equal(t, 200, resp.StatusCode, string(body))
		call := lastUpload()
		require.EqualValues(t, 3<<20, call.bytes)
		require.Equal(t, "late.bin", call.path)
		require.NotEqual(t, "*bytes.Reader", call.readerType)
	})
	t.Run("TooLarge", func(t *testing.T) {
		resp, body := upload(t, 65<<20, "path=huge.bin", "file")
		env := requireError(t, resp, body, 413, core.CodePayloadTooLarge)
		require.EqualValues(t, 64<<20, env.Error.Details["limit_bytes"])
		resp, body = upload(t, 65<<20, "file", "path=huge.bin")
		requireError(t, resp, body, 413, core.CodePayloadTooLarge)
	})
	t.Run("MissingParts", func(t *testing.T) {
		for _, c := range []struct {
			fields []string
			loc    []any
			typ    string
		}{
			{[]string{"file"}, []any{"body", "path"}, "missing"},
			{[]string{"path=a.txt"}, []any{"body", "file"}, "missing"},
			{[]string{"path=", "file"}, []any{"body", "path"}, "string_too_short"},
			{[]string{"other=1"}, []any{"body", "file"}, "missing"},
		} {
			resp, body := upload(t, 10, c.fields...)
			env := requireError(t, resp, body, 422, core.CodeValidation)
			var detail []oapigen.ValidationErrorItem
			require.NoError(t, json.Unmarshal(env.Detail, &detail))
			require.Equal(t, c.loc, detail[0].Loc, string(body))
			require.Equal(t, c.typ, detail[0].Type)
		}
		resp := b.do(t, "POST", "/v1/sandboxes/"+id+"/filesystem/upload", strings.NewReader(`{}`), "Content-Type", "application/json")
		requireError(t, resp, readAll(t, resp), 422, core.CodeValidation)
	})
	t.Run("TruncatedBody", func(t *testing.T) {
		body := "--X\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\na.txt\r\n" +
			"--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nhello"
		resp := b.do(t, "POST", "/v1/sandboxes/"+id+"/filesystem/upload", strings.NewReader(body),
			"Content-Type", "multipart/form-data; boundary=X")
		requireError(t, resp, readAll(t, resp), 422, core.CodeValidation)
	})
	t.Run("InvalidPath", func(t *testing.T) {
		resp, body := upload(t, 10, "path=../escape", "file")
		requireError(t, resp, body, 400, core.CodeInvalidPath)
	})
}

func TestServer_Idempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("ReplayIsByteForByte", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key := new(oapigen.IdempotencyKey)
		*key = "create-1"
		first, err := b.client.CreateSandboxWithResponse(ctx, &oapigen.CreateSandboxParams{IdempotencyKey: key}, oapigen.CreateSandboxRequest{})
		require.NoError(t, err)
		require.Equal(t, 201, first.StatusCode())
		// The same normalized request: defaults spelled out, ttl as a string of null.
		resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{"profile":"python-default","locker_id":null,"extra":1}`), "Idempotency-Key", "create-1")
		body := readAll(t, resp)
		require.Equal(t, 201, resp.StatusCode)
		require.Equal(t, first.Body, body)
		require.Len(t, b.listSandboxes(t, "default"), 1)
		// A different body is a conflict.
		resp = b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{"ttl":0}`), "Idempotency-Key", "create-1")
		env := requireError(t, resp, readAll(t, resp), 409, core.CodeConflict)
		require.Equal(t, "create-1", env.Error.Details["key"])
		require.NotEmpty(t, env.Error.Details["hint"])
		// So is the same key on another endpoint.
		resp = b.do(t, "POST", "/v1/lockers", nil, "Idempotency-Key", "create-1")
		requireError(t, resp, readAll(t, resp), 409, core.CodeConflict)
		// Keys are per owner.
		resp = b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{"ttl":0}`), "Idempotency-Key", "create-1", "X-Owner", "other")
		require.Equal(t, 201, resp.StatusCode)
	})
	t.Run("NumericStringsNormalize", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		resp := b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{"ttl":3600}`), "Idempotency-Key", "k")
		first := readAll(t, resp)
		resp = b.do(t, "POST", "/v1/sandboxes", strings.NewReader(`{"ttl":"3600"}`), "Idempotency-Key", "k")
		require.Equal(t, 201, resp.StatusCode)
		require.Equal(t, first, readAll(t, resp))
	})
	t.Run("BadKeyFormat", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, k := range []string{"has space", "ünï", strings.Repeat("k", 129), "a/b"} {
			resp := b.do(t, "POST", "/v1/lockers", nil, "Idempotency-Key", k)
			env := requireError(t, resp, readAll(t, resp), 409, core.CodeConflict)
			require.Contains(t, env.Error.Message, "Invalid Idempotency-Key format")
		}
		// Empty means no key.
		resp := b.do(t, "POST", "/v1/lockers", nil, "Idempotency-Key", "")
		require.Equal(t, 201, resp.StatusCode)
	})
	t.Run("ReplayWinsOverNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ttl := int64(60)
		created, err := b.client.CreateSandboxWithResponse(ctx, nil, oapigen.CreateSandboxRequest{Ttl: &ttl})
		require.NoError(t, err)
		id := created.JSON201.Id
		path := "/v1/sandboxes/" + id + "/extend_ttl"
		resp := b.do(t, "POST", path, strings.NewReader(`{"extend_by":600}`), "Idempotency-Key", "ext")
		first := readAll(t, resp)
		require.Equal(t, 200, resp.StatusCode)
		_, err = b.client.DeleteSandboxWithResponse(ctx, id)
		require.NoError(t, err)
		resp = b.do(t, "POST", path, strings.NewReader(`{"extend_by":600.0}`), "Idempotency-Key", "ext")
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, first, readAll(t, resp))
		// Shape errors come before idempotency.
		resp = b.do(t, "POST", path, strings.NewReader(`{}`), "Idempotency-Key", "ext")
		requireError(t, resp, readAll(t, resp), 422, core.CodeValidation)
	})
	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *Options) { o.IdempotencyEnabled = false })
		for range 2 {
			resp := b.do(t, "POST", "/v1/lockers", nil, "Idempotency-Key", "not a valid key!")
			require.Equal(t, 201, resp.StatusCode)
		}
		page, err := b.lockers.List(ctx, "default", "", core.MaxPageLimit, false)
		require.NoError(t, err)
		require.Len(t, page.Items, 2)
	})
	t.Run("Fingerprints", func(t *testing.T) {
		t.Parallel()
		rules, err := loadSpecRoutes()
		require.NoError(t, err)
		canon := func(route, body string) string {
			b, err := readBody(strings.NewReader(body), rules.bodies[route])
			require.NoError(t, err)
			return string(b)
		}
		const createSandboxBody, extendTTLBody = "POST /v1/sandboxes", "POST /v1/sandboxes/{sandbox_id}/extend_ttl"
		const createLockerBody, gcRunBody = "POST /v1/lockers", "POST /v1/admin/gc/run"
		require.Equal(t, `{"profile":"python-default","locker_id":null,"ttl":null}`, canon(createSandboxBody, ``))
		require.Equal(t, `{"profile":"python-default","locker_id":null,"ttl":null}`, canon(createSandboxBody, `{"profile":"python-default"}`))
		require.Equal(t, `{"profile":"python-default","locker_id":null,"ttl":0}`, canon(createSandboxBody, `{"ttl":0}`))
		require.Equal(t, `{"extend_by":600}`, canon(extendTTLBody, `{"extend_by":"600"}`))
		require.Equal(t, `{"size_limit_mb":null}`, canon(createLockerBody, `{}`))
		require.Equal(t, `{"tasks":["a<b"]}`, canon(gcRunBody, `{"tasks":["a<b"]}`))
	})
}

func TestServer_Lockers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	size := int64(2048)
	created, err := b.client.CreateLockerWithResponse(ctx, nil, oapigen.CreateLockerRequest{SizeLimitMb: &size})
	require.NoError(t, err)
	require.Equal(t, 201, created.StatusCode())
	l := created.JSON201
	require.EqualValues(t, 2048, l.SizeLimitMb)
	require.Equal(t, oapigen.DockerVolume, l.Backend)
	require.Nil(t, l.ManagedBySandboxId)
	require.NotContains(t, string(created.Body), "owner")

	got, err := b.client.GetLockerWithResponse(ctx, l.Id)
	require.NoError(t, err)
	require.Equal(t, "2026-01-30T07:00:00.000000Z", got.JSON200.LastAccessedAt.String())
	for q, n := range map[string]int{"": 1, "?managed=no": 1, "?managed=OFF": 1, "?managed=0": 1, "?managed=yes": 0, "?managed=on": 0, "?managed=1": 0, "?managed=true": 0} {
		resp := b.do(t, "GET", "/v1/lockers"+q, nil)
		var list oapigen.LockerList
		require.NoError(t, json.Unmarshal(readAll(t, resp), &list))
		require.Len(t, list.Items, n, q)
	}
	w, err := b.client.WriteLockerFileWithResponse(ctx, l.Id, oapigen.WriteFileRequest{Path: "notes/a.md", Content: "# hi"})
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"ok"}`, string(w.Body))
	r, err := b.client.ReadLockerFileWithResponse(ctx, l.Id, oapigen.LockerReadRequest{Path: "notes/a.md"})
	require.NoError(t, err)
	require.Equal(t, "# hi", r.JSON200.Content)
	r, err = b.client.ReadLockerFileWithResponse(ctx, l.Id, oapigen.LockerReadRequest{Path: "nope"})
	require.NoError(t, err)
	requireError(t, r.HTTPResponse, r.Body, 404, core.CodeFileNotFound)
	r, err = b.client.ReadLockerFileWithResponse(ctx, l.Id, oapigen.LockerReadRequest{Path: "/abs"})
	require.NoError(t, err)
	requireError(t, r.HTTPResponse, r.Body, 400, core.CodeInvalidPath)

	d, err := b.client.DeleteLockerWithResponse(ctx, l.Id)
	require.NoError(t, err)
	require.Equal(t, 204, d.StatusCode())
	d, err = b.client.DeleteLockerWithResponse(ctx, l.Id)
	require.NoError(t, err)
	requireError(t, d.HTTPResponse, d.Body, 404, core.CodeNotFound)
}

func TestServer_GC(t *testing.T) {
	t.Parallel()
	gc := &scriptedGC{}
	b := setup(t, func(o *Options) { o.GC = gc })
	ctx := context.Background()
	run, err := b.client.RunGCWithResponse(ctx, oapigen.GCRunRequest{})
	require.NoError(t, err)
	require.Equal(t, 200, run.StatusCode(), string(run.Body))
	require.Len(t, run.JSON200.Results, 3)
	require.Equal(t, 1, run.JSON200.TotalCleaned)
	require.Equal(t, 1, run.JSON200.TotalErrors)
	require.EqualValues(t, 245, run.JSON200.DurationMs)
	require.Contains(t, string(run.Body), `"errors":[]`)
	tasks := []string{"orphan_locker", "unknown"}
	run, err = b.client.RunGCWithResponse(ctx, oapigen.GCRunRequest{Tasks: &tasks})
	require.NoError(t, err)
	require.Len(t, run.JSON200.Results, 1)
	gc.mu.Lock()
	require.Nil(t, gc.calls[0])
	require.Equal(t, tasks, gc.calls[1])
	gc.running = true
	gc.mu.Unlock()
	run, err = b.client.RunGCWithResponse(ctx, oapigen.GCRunRequest{})
	require.NoError(t, err)
	env := requireError(t, run.HTTPResponse, run.Body, 423, core.CodeGCRunning)
	require.JSONEq(t, `"GC is already running. Please wait for the current cycle to complete."`, string(env.Detail))
	st, err := b.client.GetGCStatusWithResponse(ctx)
	require.NoError(t, err)
	require.True(t, st.JSON200.IsRunning)
	require.Equal(t, "bay-test", st.JSON200.InstanceId)
	require.False(t, st.JSON200.Tasks["orphan_container"].Enabled)
}

func TestServer_Docs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, "GET", "/openapi.json", nil)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var spec struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(readAll(t, resp), &spec))
	require.Equal(t, "3.0.3", spec.OpenAPI)
	ops := 0
	for _, item := range spec.Paths {
		for m := range item {
			if m != "parameters" {
				ops++
			}
		}
	}
	// Every served route but /openapi.json, /docs and its assets (docs_test.go).
	require.Equal(t, len(routeTable())-3, ops, "every served route is in the spec")
}

func TestServer_AccessLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.createSandbox(t, "alice", "python-default")
	resp := b.do(t, "GET", "/v1/sandboxes/"+id, nil, "X-Owner", "alice", "X-Request-Id", "log-me")
	require.Equal(t, 200, resp.StatusCode)
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		if strings.Contains(l, `"log-me"`) {
			require.NoError(t, json.Unmarshal([]byte(l), &line))
		}
	}
	require.NotNil(t, line)
	require.Equal(t, "GET", line["method"])
	require.Equal(t, "GET /v1/sandboxes/{sandbox_id}", line["route"])
	require.EqualValues(t, 200, line["status"])
	require.Equal(t, "alice", line["owner"])
	require.Equal(t, id, line["sandbox_id"])
	require.Contains(t, line, "duration_ms")
	require.NotContains(t, b.logs.String(), "Bearer")
	b.metrics.mu.Lock()
	defer b.metrics.mu.Unlock()
	require.Contains(t, b.metrics.obs, "GET /v1/sandboxes/{sandbox_id} 200")
}

func TestStatusTableCoversEveryCode(t *testing.T) {
	t.Parallel()
	for _, c := range core.Codes {
		_, ok := statusOf[c]
		require.True(t, ok, c)
	}
	require.Len(t, statusOf, len(core.Codes))
}

func TestOpenAPISpecIsValid(t *testing.T) {
	t.Parallel()
	spec, err := openapi3.NewLoader().LoadFromData(oapigen.Spec())
	require.NoError(t, err)
	require.NoError(t, spec.Validate(context.Background()))
	require.Equal(t, "Bay API", spec.Info.Title)
}

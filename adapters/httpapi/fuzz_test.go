package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bayhq/bay/core"
)

// FuzzHandler drives the whole handler with arbitrary methods, paths,
// headers, queries and bodies: no request may produce a 500 (a panic would
// surface as one through the recover middleware), every response carries
// X-Request-Id, and every error response is the envelope.
func FuzzHandler(f *testing.F) {
	const sb = "sandbox-000000000001"
	seeds := []struct{ method, path, headers, query, body string }{
		{"GET", "/health", "", "", ""},
		{"GET", "/v1/profiles", "", "", ""},
		{"POST", "/v1/sandboxes", "Content-Type: application/json", "", `{"profile":"python-default","ttl":"60"}`},
		{"POST", "/v1/sandboxes", "Idempotency-Key: abc", "", `{"ttl":1e400}`},
		{"POST", "/v1/sandboxes", "Idempotency-Key: a b", "", `{"locker_id":5}`},
		{"GET", "/v1/sandboxes", "", "limit=0&cursor=x&status=idle", ""},
		{"GET", "/v1/sandboxes", "", "limit=99999999999999999999", ""},
		{"GET", "/v1/sandboxes/" + sb, "X-Owner: " + strings.Repeat("x", 300), "", ""},
		{"POST", "/v1/sandboxes/" + sb + "/extend_ttl", "Idempotency-Key: k", "", `{"extend_by":9223372036854775807}`},
		{"POST", "/v1/sandboxes/" + sb + "/extend_ttl", "", "", `{"extend_by":-1}`},
		{"POST", "/v1/sandboxes/" + sb + "/keepalive", "", "", ""},
		{"POST", "/v1/sandboxes/" + sb + "/stop", "", "", "garbage"},
		{"POST", "/v1/sandboxes/" + sb + "/python/exec", "", "", `{"code":"print(1)","timeout":"30.5"}`},
		{"POST", "/v1/sandboxes/" + sb + "/shell/exec", "", "", `{"command":"pwd","cwd":"../.."}`},
		{"GET", "/v1/sandboxes/" + sb + "/filesystem/files", "", "path=a%00b", ""},
		{"PUT", "/v1/sandboxes/" + sb + "/filesystem/files", "", "", `{"path":"a","content":"b"}`},
		{"DELETE", "/v1/sandboxes/" + sb + "/filesystem/files", "", "path=", ""},
		{"GET", "/v1/sandboxes/" + sb + "/filesystem/directories", "", "path=.&path=..", ""},
		{"POST", "/v1/sandboxes/" + sb + "/filesystem/upload", "Content-Type: multipart/form-data; boundary=X", "",
			"--X\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\na.txt\r\n--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nhello\r\n--X--\r\n"},
		{"POST", "/v1/sandboxes/" + sb + "/filesystem/upload", "Content-Type: multipart/form-data; boundary=X", "", "--X\r\nbroken"},
		{"POST", "/v1/sandboxes/" + sb + "/filesystem/upload", "Content-Type: multipart/form-data", "", "x"},
		{"GET", "/v1/sandboxes/" + sb + "/filesystem/download", "", "path=a", ""},
		{"POST", "/v1/lockers", "", "", `{"size_limit_mb":"7"}`},
		{"GET", "/v1/lockers", "", "managed=maybe", ""},
		{"POST", "/v1/lockers/locker-x/files/read", "", "", `{"path":null}`},
		{"POST", "/v1/lockers/locker-x/files/write", "", "", `[]`},
		{"POST", "/v1/admin/gc/run", "", "", `{"tasks":[1]}`},
		{"GET", "/v1/admin/gc/status", "Authorization: Bearer x", "", ""},
		{"DELETE", "/v1/sandboxes", "", "", ""},
		{"GET", "/v1//sandboxes/../profiles", "", "", ""},
		{"OPTIONS", "/v1/sandboxes/" + sb, "", "", ""},
		{"HEAD", "/openapi.json", "", "", ""},
		{"GET", "/docs", "X-Request-Id: \x01bad", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.headers, s.query, []byte(s.body))
	}
	svc := newServices(f)
	if _, err := svc.sandboxes.Create(context.Background(), "default", core.CreateSandboxInput{}); err != nil {
		f.Fatal(err)
	}
	s := New(Options{
		Sandboxes:          svc.sandboxes,
		Executions:         svc.execs,
		Lockers:            svc.lockers,
		GC:                 svc.gc,
		Idempotency:        svc.idem,
		AllowAnonymous:     true,
		IdempotencyEnabled: true,
		MaxBodyBytes:       1 << 16,
		MaxUploadBytes:     1 << 16,
		Logger:             slog.New(slog.DiscardHandler),
	})
	f.Fuzz(func(t *testing.T, method, path, headers, query string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		target := "http://bay.test" + path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(method, target, bytes.NewReader(body))
		if err != nil {
			return // not a request an HTTP server would hand over
		}
		for _, line := range strings.Split(headers, "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok || !validHeaderName(name) || strings.ContainsAny(value, "\r\n\x00") {
				continue
			}
			req.Header.Add(name, strings.TrimSpace(value))
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code < 600 && rec.Code != http.StatusBadGateway {
			t.Fatalf("%s %s: status %d: %s", method, target, rec.Code, rec.Body.String())
		}
		if rec.Header().Get("X-Request-Id") == "" {
			t.Fatalf("%s %s: no X-Request-Id", method, target)
		}
		if rec.Code >= 400 {
			var env struct {
				Error struct {
					Code      string `json:"code"`
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code == "" ||
				env.Error.RequestID != rec.Header().Get("X-Request-Id") {
				t.Fatalf("%s %s: status %d without envelope: %q", method, target, rec.Code, rec.Body.String())
			}
		}
	})
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

package main

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

var version = "unknown"

type store struct {
	mu    sync.Mutex
	files map[string]string
}

func clean(p string) string { return path.Join("/workspace", p) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"detail": []map[string]any{{"loc": []string{"body"}, "msg": err.Error(), "type": "json_invalid"}},
		})
		return false
	}
	return true
}

// requireToken wraps next so that every request but GET /health carries
// "Authorization: Bearer <token>", as Ship does (spec/ship.md §1): Bay's
// tests against this image exercise the same contract. The scheme is
// case-insensitive; the token is compared in constant time and is never
// read from the query string.
func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/health" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		// An empty configured token matches nothing (fail closed).
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" ||
			subtle.ConstantTimeCompare([]byte(cred), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ship"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "missing or invalid runtime token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func main() {
	// Read and drop the token first, like Ship; this binary starts no
	// processes, but the rule is the same for every runtime image.
	token := os.Getenv("BAY_RUNTIME_TOKEN")
	_ = os.Unsetenv("BAY_RUNTIME_TOKEN")
	if token == "" {
		fmt.Fprintln(os.Stderr, "fakeship: BAY_RUNTIME_TOKEN is missing or empty; the control plane sets it per session")
		os.Exit(1)
	}
	port := os.Getenv("SHIP_PORT")
	if port == "" {
		port = "8123"
	}
	// A client that never finishes its headers must not hold a connection
	// forever (gosec G114), as with Bay's and Ship's own servers.
	srv := &http.Server{Addr: ":" + port, Handler: newHandler(token), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "fakeship:", err)
		os.Exit(1)
	}
}

// newHandler returns the API, guarded by token.
func newHandler(token string) http.Handler {
	s := &store{files: map[string]string{}}
	meta := map[string]any{
		"runtime": map[string]any{
			"name": "fake", "version": version, "api_version": "v1", "auth": "bearer",
			"build": map[string]any{"image": "bay-fake-runtime:latest", "image_digest": nil, "git_sha": nil},
		},
		"workspace": map[string]string{"mount_path": "/workspace"},
		"capabilities": map[string]any{
			"filesystem": map[string]any{
				"operations": []string{"read", "write", "delete", "list"},
				"path_mode":  "relative_to_mount",
				"endpoints": map[string]string{
					"read": "/fs/read_file", "write": "/fs/write_file",
					"delete": "/fs/delete_file", "list": "/fs/list_dir",
				},
			},
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"message": "Ship API is running (fake)"})
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "healthy"})
	})
	mux.HandleFunc("GET /stat", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"service": "fake", "version": version, "status": "running", "author": "Bay"})
	})
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, meta) })
	mux.HandleFunc("POST /fs/write_file", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Path, Content string }
		if !decode(w, r, &req) {
			return
		}
		p := clean(req.Path)
		s.mu.Lock()
		s.files[p] = req.Content
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"success": true, "message": "File written: " + req.Path, "path": p, "size": len(req.Content)})
	})
	mux.HandleFunc("POST /fs/read_file", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Path string }
		if !decode(w, r, &req) {
			return
		}
		p := clean(req.Path)
		s.mu.Lock()
		c, ok := s.files[p]
		s.mu.Unlock()
		if !ok {
			writeJSON(w, 404, map[string]string{"detail": "File not found: " + req.Path})
			return
		}
		writeJSON(w, 200, map[string]any{"content": c, "path": p, "size": len(c)})
	})
	mux.HandleFunc("POST /fs/delete_file", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Path string }
		if !decode(w, r, &req) {
			return
		}
		p := clean(req.Path)
		s.mu.Lock()
		_, ok := s.files[p]
		delete(s.files, p)
		s.mu.Unlock()
		if !ok {
			writeJSON(w, 404, map[string]string{"detail": "Path not found: " + req.Path})
			return
		}
		writeJSON(w, 200, map[string]any{"success": true, "message": "File deleted: " + req.Path})
	})
	mux.HandleFunc("POST /fs/list_dir", func(w http.ResponseWriter, r *http.Request) {
		req := struct{ Path string }{Path: "."}
		if !decode(w, r, &req) {
			return
		}
		dir := clean(req.Path)
		s.mu.Lock()
		files := []map[string]any{}
		for p, c := range s.files {
			if path.Dir(p) == dir {
				files = append(files, map[string]any{"name": path.Base(p), "path": p, "is_file": true, "is_dir": false, "size": len(c), "modified_time": 0.0})
			}
		}
		s.mu.Unlock()
		sort.Slice(files, func(i, j int) bool {
			return strings.ToLower(files[i]["name"].(string)) < strings.ToLower(files[j]["name"].(string))
		})
		writeJSON(w, 200, map[string]any{"files": files, "current_path": dir})
	})
	return requireToken(token, mux)
}

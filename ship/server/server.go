package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/bayhq/bay/ship/fsx"
	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/runas"
	"github.com/bayhq/bay/ship/shell"
	"github.com/bayhq/bay/ship/term"
	"github.com/bayhq/bay/ship/wire"
)

// Config configures a Server.
type Config struct {
	// Workspace is the workspace root (/workspace in the image).
	Workspace string
	// Token is the runtime token every request but GET /health must carry
	// as "Authorization: Bearer <token>". Bay generates it per session and
	// passes it in the container's BAY_RUNTIME_TOKEN. Required: without
	// it any process that can reach the port (another sandbox, a page in
	// a browser) could run code as the sandbox user.
	Token string
	// Version is reported by /meta and /stat.
	Version string
	// Image, ImageDigest and GitSHA are reported in /meta's runtime.build;
	// empty digest and SHA become null.
	Image       string
	ImageDigest string
	GitSHA      string
	// Python is the interpreter with ipykernel.
	Python string
	// StateDir holds the kernel's private files; outside the workspace.
	StateDir string
	// Identity is the account user work runs as.
	Identity runas.Identity
	// KernelOutput receives the kernel's own stdout/stderr; nil discards.
	KernelOutput io.Writer
	// Host names the files GET /capabilities reads (inventory, cgroup
	// limits, os-release, no-new-privileges); empty fields take the
	// container's paths.
	Host   HostFiles
	Logger *slog.Logger
}

// Server serves Ship's API.
type Server struct {
	cfg    Config
	log    *slog.Logger
	root   *fsx.Root
	fs     *fsx.FS
	kernel *kernel.Manager
	shell  *shell.Runner
	term   *term.Handler
	// meta and capabilities are the constant answers of GET /meta and GET
	// /capabilities.
	meta         []byte
	capabilities []byte
	mux          *http.ServeMux
	// paths are the route patterns, for telling 405 from 404.
	paths map[string]bool
}

// New returns a Server for cfg. The workspace directory must exist and
// cfg.Token must not be empty: Ship fails closed rather than serving
// unauthenticated.
func New(cfg Config) (*Server, error) {
	if cfg.Token == "" {
		return nil, errors.New("runtime token is empty; refusing to serve without authentication")
	}
	root, err := fsx.NewRoot(cfg.Workspace)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Version == "" {
		cfg.Version = "unknown"
	}
	if cfg.Image == "" {
		cfg.Image = "ship:default"
	}
	id := cfg.Identity
	s := &Server{
		cfg:  cfg,
		log:  cfg.Logger,
		root: root,
		fs:   &fsx.FS{Root: root, ID: id},
		kernel: kernel.NewManager(kernel.Config{
			Python:    cfg.Python,
			Workspace: root.Dir,
			StateDir:  cfg.StateDir,
			Identity:  id,
			Output:    cfg.KernelOutput,
		}),
		shell: &shell.Runner{ID: id},
		term:  &term.Handler{ID: id, Dir: root.Dir},
		mux:   http.NewServeMux(),
		paths: map[string]bool{},
	}
	s.meta = s.buildMeta()
	s.capabilities = s.buildCapabilities()
	s.routes()
	return s, nil
}

// Kernel returns the kernel manager, e.g. to pre-start the kernel.
func (s *Server) Kernel() *kernel.Manager { return s.kernel }

// Close stops the kernel and releases the workspace handle.
func (s *Server) Close() {
	s.kernel.Close()
	_ = s.root.Close()
}

// ServeHTTP implements http.Handler. Authentication runs before routing,
// so an unauthenticated client learns nothing about the routes (unknown
// paths and wrong methods are 401 too, not 404/405). Only GET /health is
// open (wire.Open).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !wire.Open(r) && !wire.Authorized(r, s.cfg.Token) {
		w.Header().Set("WWW-Authenticate", wire.Challenge)
		writeDetail(w, http.StatusUnauthorized, wire.UnauthorizedDetail)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) handle(method, path string, h http.HandlerFunc) {
	s.mux.HandleFunc(method+" "+path, h)
	s.paths[path] = true
}

func (s *Server) routes() {
	s.handle("GET", "/{$}", s.handleRoot)
	s.handle("GET", wire.PathHealth, s.handleHealth)
	s.handle("GET", "/stat", s.handleStat)
	s.handle("GET", wire.PathMeta, s.handleMeta)
	s.handle("GET", wire.PathCapabilities, s.handleCapabilities)
	s.handle("POST", wire.PathPythonExec, s.handlePythonExec)
	s.handle("POST", wire.PathPythonExecStream, s.handlePythonStream)
	s.handle("GET", "/ipython/kernel/status", s.handleKernelStatus)
	s.handle("POST", "/ipython/kernel/restart", s.handleKernelRestart)
	s.handle("DELETE", "/ipython/kernel", s.handleKernelShutdown)
	s.handle("POST", wire.PathShellExec, s.handleShellExec)
	s.handle("POST", wire.PathShellExecStream, s.handleShellStream)
	s.handle("POST", wire.PathExecCancel, s.handleCancel)
	s.handle("GET", "/shell/processes", s.handleShellProcesses)
	s.handle("POST", "/fs/create_file", s.handleCreateFile)
	s.handle("POST", wire.PathReadFile, s.handleReadFile)
	s.handle("POST", wire.PathWriteFile, s.handleWriteFile)
	s.handle("POST", "/fs/edit_file", s.handleEditFile)
	s.handle("POST", wire.PathDeleteFile, s.handleDeleteFile)
	s.handle("POST", wire.PathListDir, s.handleListDir)
	s.handle("POST", wire.PathUpload, s.handleUpload)
	s.handle("GET", wire.PathDownload, s.handleDownload)
	s.handle("GET", "/term/ws", s.term.ServeHTTP)
	// ServeMux's own 404/405 replies are plain text; answer in the JSON shape.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.knownPath(r.URL.Path) {
			writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
		writeDetail(w, http.StatusNotFound, "Not Found")
	})
}

// knownPath reports whether p matches a route pattern (with any method);
// a {name} segment matches one path segment.
func (s *Server) knownPath(p string) bool {
	if p == "/" {
		p = "/{$}"
	}
	if s.paths[p] {
		return true
	}
	got := strings.Split(p, "/")
	for pattern := range s.paths {
		want := strings.Split(pattern, "/")
		if len(want) == len(got) && segmentsMatch(want, got) {
			return true
		}
	}
	return false
}

// segmentsMatch compares path segments, a wildcard {name} matching any
// non-empty segment.
func segmentsMatch(pattern, path []string) bool {
	for i, w := range pattern {
		wild := strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") && w != "{$}"
		if w != path[i] && (!wild || path[i] == "") {
			return false
		}
	}
	return true
}

// writeJSON writes v with status, without HTML escaping.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"detail":"encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeDetail writes the {"detail": msg} error shape.
func writeDetail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, wire.Error{Detail: msg})
}

func writeValidation(w http.ResponseWriter, items ...wire.ValidationItem) {
	writeJSON(w, http.StatusUnprocessableEntity, wire.Error{Detail: items})
}

func missing(where, field string) wire.ValidationItem {
	return wire.ValidationItem{Loc: []any{where, field}, Msg: "Field required", Type: "missing"}
}

// maxJSONBody bounds JSON request bodies (file contents travel in them).
const maxJSONBody = 256 << 20

// decodeBody decodes the JSON body into dst after checking that every
// required field is present and not null. On failure it writes a 422 and
// returns false. present receives the top-level keys that were sent.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, required ...string) (present map[string]json.RawMessage, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		writeValidation(w, wire.ValidationItem{Loc: []any{"body"}, Msg: err.Error(), Type: "body_error"})
		return nil, false
	}
	if err := json.Unmarshal(body, &present); err != nil || present == nil {
		msg := "Input should be a valid JSON object"
		if err != nil {
			msg = "JSON decode error: " + err.Error()
		}
		writeValidation(w, wire.ValidationItem{Loc: []any{"body"}, Msg: msg, Type: "json_invalid"})
		return nil, false
	}
	var items []wire.ValidationItem
	for _, f := range required {
		if v, ok := present[f]; !ok || string(v) == "null" {
			items = append(items, missing("body", f))
		}
	}
	if len(items) > 0 {
		writeValidation(w, items...)
		return nil, false
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			loc := []any{"body"}
			for _, p := range strings.Split(te.Field, ".") {
				if p != "" {
					loc = append(loc, p)
				}
			}
			writeValidation(w, wire.ValidationItem{Loc: loc, Msg: fmt.Sprintf("Input should be a valid %s", te.Type), Type: "type_error"})
			return nil, false
		}
		writeValidation(w, wire.ValidationItem{Loc: []any{"body"}, Msg: err.Error(), Type: "value_error"})
		return nil, false
	}
	return present, true
}

func strp(s string) *string { return &s }

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"message": "Ship API is running"})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, wire.Health{Status: wire.StatusHealthy})
}

func (s *Server) handleStat(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"service": "ship", "version": s.cfg.Version, "status": "running", "author": "Bay",
	})
}

func nullable(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

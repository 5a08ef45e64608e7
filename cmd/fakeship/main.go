package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/ship/wire"
)

var version = "unknown"

// mountPath is where the workspace appears in answers; the files live in
// memory.
const mountPath = "/workspace"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, wire.Error{Detail: detail})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, wire.Error{Detail: []wire.ValidationItem{
			{Loc: []any{"body"}, Msg: err.Error(), Type: "json_invalid"},
		}})
		return false
	}
	return true
}

// requireToken wraps next so that every request but GET /health carries
// "Authorization: Bearer <token>", as Ship does (spec/ship.md §1): Bay's
// tests against this image exercise the same contract. The rule itself is
// wire.Open and wire.Authorized, shared with Ship.
func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !wire.Open(r) && !wire.Authorized(r, token) {
			w.Header().Set("WWW-Authenticate", wire.Challenge)
			writeDetail(w, http.StatusUnauthorized, wire.UnauthorizedDetail)
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
	handler := newHandler(token)
	// FAKE_RUNTIME=browser stands in for browserd instead (browser.go).
	if os.Getenv("FAKE_RUNTIME") == "browser" {
		port = os.Getenv("BROWSERD_PORT")
		if port == "" {
			port = "8124"
		}
		workspace := os.Getenv("FAKE_WORKSPACE")
		if workspace == "" {
			workspace = mountPath
		}
		failure := ""
		if os.Getenv("FAKE_FAIL_HEALTH") == "1" {
			failure = "FAKE_FAIL_HEALTH is set: the fake browser reports that it cannot start"
		}
		handler = newBrowserHandler(token, workspace, failure)
	}
	// A client that never finishes its headers must not hold a connection
	// forever (gosec G114), as with Bay's and Ship's own servers.
	srv := &http.Server{Addr: ":" + port, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "fakeship:", err)
		os.Exit(1)
	}
}

// meta is /meta: the runtime declares the filesystem, and python and shell
// that echo (exec.go). version is set with -ldflags -X, before this
// initializer runs.
var meta = wire.Meta{
	Runtime: wire.MetaRuntime{
		Name: "fake", Version: version, APIVersion: "v1", Auth: wire.AuthBearer,
		Build: wire.MetaBuild{Image: "bay-fake-runtime:latest"},
	},
	Workspace: wire.MetaWorkspace{MountPath: mountPath},
	Capabilities: map[string]wire.Capability{
		wire.CapabilityFilesystem: {
			Operations: []string{"read", "write", "delete", "list", "upload", "download"},
			PathMode:   "relative_to_mount",
			Endpoints: map[string]string{
				"read": wire.PathReadFile, "write": wire.PathWriteFile,
				"delete": wire.PathDeleteFile, "list": wire.PathListDir,
				"upload": wire.PathUpload, "download": wire.PathDownload,
			},
		},
		wire.CapabilityPython: {
			Operations: []string{wire.OpExec, wire.OpExecStream, wire.OpCancel},
			Engine:     "echo",
			Endpoints: map[string]string{
				wire.OpExec: wire.PathPythonExec, wire.OpExecStream: wire.PathPythonExecStream, wire.OpCancel: wire.PathExecCancel,
			},
		},
		wire.CapabilityShell: {
			Operations: []string{wire.OpExec, wire.OpExecStream, wire.OpCancel},
			Endpoints: map[string]string{
				wire.OpExec: wire.PathShellExec, wire.OpExecStream: wire.PathShellExecStream, wire.OpCancel: wire.PathExecCancel,
			},
		},
	},
}

// newHandler returns the API, guarded by token.
func newHandler(token string) http.Handler {
	ws := &workspace{nodes: map[string]*node{".": {dir: true}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"message": "Ship API is running (fake)"})
	})
	mux.HandleFunc("GET "+wire.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, wire.Health{Status: wire.StatusHealthy})
	})
	mux.HandleFunc("GET /stat", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"service": "fake", "version": version, "status": "running", "author": "Bay"})
	})
	mux.HandleFunc("GET "+wire.PathMeta, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, meta) })
	handleExec(mux)
	mux.HandleFunc("POST "+wire.PathWriteFile, func(w http.ResponseWriter, r *http.Request) {
		var req wire.WriteFileRequest
		if !decode(w, r, &req) {
			return
		}
		if err := ws.write(req.Path, []byte(req.Content), req.Mode != nil && *req.Mode != wire.WriteModeTruncate); err != nil {
			err.write(w)
			return
		}
		writeJSON(w, 200, wire.WriteFileResponse{Success: true, Message: "File written: " + req.Path,
			Path: abs(req.Path), Size: ws.size(req.Path)})
	})
	mux.HandleFunc("POST "+wire.PathReadFile, func(w http.ResponseWriter, r *http.Request) {
		var req wire.ReadFileRequest
		if !decode(w, r, &req) {
			return
		}
		b, err := ws.read(req.Path)
		if err != nil {
			err.write(w)
			return
		}
		c := string(b)
		writeJSON(w, 200, wire.ReadFileResponse{Content: &c, Path: abs(req.Path), Size: int64(len(b))})
	})
	mux.HandleFunc("POST "+wire.PathDeleteFile, func(w http.ResponseWriter, r *http.Request) {
		var req wire.DeleteFileRequest
		if !decode(w, r, &req) {
			return
		}
		dir, err := ws.delete(req.Path)
		if err != nil {
			err.write(w)
			return
		}
		msg := "File deleted: " + req.Path
		if dir {
			msg = "Directory deleted: " + req.Path
		}
		writeJSON(w, 200, wire.DeleteFileResponse{Success: true, Message: msg})
	})
	mux.HandleFunc("POST "+wire.PathListDir, func(w http.ResponseWriter, r *http.Request) {
		req := wire.ListDirRequest{Path: "."}
		if !decode(w, r, &req) {
			return
		}
		files, err := ws.list(req.Path, req.ShowHidden)
		if err != nil {
			err.write(w)
			return
		}
		writeJSON(w, 200, wire.ListDirResponse{Files: files, CurrentPath: abs(req.Path)})
	})
	mux.HandleFunc("POST "+wire.PathUpload, func(w http.ResponseWriter, r *http.Request) {
		p, b, ok := readUpload(w, r)
		if !ok {
			return
		}
		if err := ws.write(p, b, false); err != nil {
			err.write(w)
			return
		}
		fp, size := abs(p), int64(len(b))
		writeJSON(w, 200, wire.UploadResponse{Success: true, Message: "File uploaded successfully", FilePath: &fp, Size: &size})
	})
	mux.HandleFunc("GET "+wire.PathDownload, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has(wire.DownloadQueryPath) {
			writeJSON(w, http.StatusUnprocessableEntity, wire.Error{Detail: []wire.ValidationItem{
				{Loc: []any{"query", wire.DownloadQueryPath}, Msg: "Field required", Type: "missing"},
			}})
			return
		}
		p := q.Get(wire.DownloadQueryPath)
		b, err := ws.read(p)
		if err != nil {
			if err.status == http.StatusNotFound {
				err.detail = "File not found"
			}
			err.write(w)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(rel(p))}))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		// #nosec G705 -- the bytes go out as an octet-stream attachment, never rendered as HTML
		_, _ = w.Write(b)
	})
	return requireToken(token, mux)
}

// maxUpload bounds an upload: unlike Ship, this fake holds files in
// memory, and they are small test data.
const maxUpload = 64 << 20

// readUpload reads the multipart body of an upload: the target path and the
// file's bytes. On failure it writes the answer and returns false.
func readUpload(w http.ResponseWriter, r *http.Request) (string, []byte, bool) {
	var (
		p, data            []byte
		havePath, haveFile bool
	)
	failed := func(err error) (string, []byte, bool) {
		msg := err.Error()
		writeJSON(w, http.StatusInternalServerError, wire.UploadResponse{Message: "File upload failed", Error: &msg})
		return "", nil, false
	}
	// A body that is not multipart lacks both fields, as Ship says.
	if mr, err := r.MultipartReader(); err == nil {
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return failed(err)
			}
			switch part.FormName() {
			case wire.UploadFieldPath:
				p, err = io.ReadAll(io.LimitReader(part, 64<<10))
				havePath = true
			case wire.UploadFieldFile:
				data, err = io.ReadAll(io.LimitReader(part, maxUpload+1))
				haveFile = true
				if err == nil && len(data) > maxUpload {
					err = fmt.Errorf("upload larger than %d bytes", maxUpload)
				}
			}
			part.Close()
			if err != nil {
				return failed(err)
			}
		}
	}
	var items []wire.ValidationItem
	if !haveFile {
		items = append(items, wire.ValidationItem{Loc: []any{"body", wire.UploadFieldFile}, Msg: "Field required", Type: "missing"})
	}
	if !havePath {
		items = append(items, wire.ValidationItem{Loc: []any{"body", wire.UploadFieldPath}, Msg: "Field required", Type: "missing"})
	}
	if len(items) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, wire.Error{Detail: items})
		return "", nil, false
	}
	return string(p), data, true
}

// workspace is an in-memory directory tree, keyed by clean paths relative
// to the workspace ("." is the root). It answers with Ship's statuses
// (spec/ship.md §8); core/fake.Ship keeps the same tree behind the Go port,
// and the conformance suite holds both to the real Ship.
type workspace struct {
	mu    sync.Mutex
	nodes map[string]*node
}

type node struct {
	dir   bool
	data  []byte
	mtime time.Time
}

// fsError is an error status of a filesystem route.
type fsError struct {
	status int
	detail string
}

func (e *fsError) write(w http.ResponseWriter) { writeDetail(w, e.status, e.detail) }

// rel cleans p into a path relative to the workspace; ".." cannot climb
// above it.
func rel(p string) string {
	if r := strings.TrimPrefix(path.Join("/", p), "/"); r != "" {
		return r
	}
	return "."
}

func abs(p string) string { return path.Join(mountPath, rel(p)) }

func (ws *workspace) write(p string, data []byte, appendMode bool) *fsError {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	r := rel(p)
	old := ws.nodes[r]
	if old != nil && old.dir {
		return &fsError{http.StatusBadRequest, "Path is not a file: " + p}
	}
	for d := path.Dir(r); d != "."; d = path.Dir(d) {
		if n := ws.nodes[d]; n != nil && !n.dir {
			return &fsError{http.StatusBadRequest, "Path is not a directory: " + d}
		}
	}
	for d := path.Dir(r); d != "."; d = path.Dir(d) {
		if ws.nodes[d] == nil {
			ws.nodes[d] = &node{dir: true, mtime: time.Now()}
		}
	}
	if appendMode && old != nil {
		data = append(slices.Clone(old.data), data...)
	}
	ws.nodes[r] = &node{data: slices.Clone(data), mtime: time.Now()}
	return nil
}

func (ws *workspace) size(p string) int64 {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if n := ws.nodes[rel(p)]; n != nil {
		return int64(len(n.data))
	}
	return 0
}

func (ws *workspace) read(p string) ([]byte, *fsError) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	n := ws.nodes[rel(p)]
	switch {
	case n == nil:
		return nil, &fsError{http.StatusNotFound, "File not found: " + p}
	case n.dir:
		return nil, &fsError{http.StatusBadRequest, "Path is not a file: " + p}
	}
	return n.data, nil
}

func (ws *workspace) delete(p string) (dir bool, _ *fsError) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	r := rel(p)
	n := ws.nodes[r]
	switch {
	case r == ".":
		return false, &fsError{http.StatusBadRequest, "Refusing to delete the workspace root: " + p}
	case n == nil:
		return false, &fsError{http.StatusNotFound, "Path not found: " + p}
	}
	for k := range ws.nodes {
		if k == r || strings.HasPrefix(k, r+"/") {
			delete(ws.nodes, k)
		}
	}
	return n.dir, nil
}

// list returns the entries of a directory as Ship does: directories first,
// then by case-insensitive name; hidden names only when asked.
func (ws *workspace) list(p string, showHidden bool) ([]wire.FileInfo, *fsError) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	r := rel(p)
	n := ws.nodes[r]
	switch {
	case n == nil:
		return nil, &fsError{http.StatusNotFound, "Directory not found: " + p}
	case !n.dir:
		return nil, &fsError{http.StatusBadRequest, "Path is not a directory: " + p}
	}
	files := []wire.FileInfo{}
	for k, n := range ws.nodes {
		name := path.Base(k)
		if k == "." || path.Dir(k) != r || (!showHidden && strings.HasPrefix(name, ".")) {
			continue
		}
		mt := float64(n.mtime.UnixNano()) / 1e9
		f := wire.FileInfo{Name: name, Path: path.Join(mountPath, k), IsFile: !n.dir, IsDir: n.dir, ModifiedTime: &mt}
		if !n.dir {
			size := int64(len(n.data))
			f.Size = &size
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].IsDir != files[j].IsDir {
			return files[i].IsDir
		}
		return strings.ToLower(files[i].Name) < strings.ToLower(files[j].Name)
	})
	return files, nil
}

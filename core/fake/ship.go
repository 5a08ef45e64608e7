package fake

import (
	"bytes"
	"context"
	"crypto/subtle"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/core"
)

// Ship is an in-memory core.Ship for unit tests of services: every endpoint
// is healthy unless marked down, each endpoint has its own in-memory
// workspace, Python and shell echo their input (with the few exceptions of
// exec.go: a sleep waits, a raise fails). It passes the same conformance
// suite (conformance.RunShip) as shipclient against the real Ship and
// cmd/fakeship, so its answers and errors are the ones Bay sees from a
// runtime.
type Ship struct {
	mu     sync.Mutex
	down   map[string]bool
	caps   core.RuntimeCapabilities
	noInfo bool
	files  map[string]*workspace
	counts map[string]int64
	calls  map[string]int
	// running holds the executions in flight that named themselves, for
	// Cancel.
	running map[execKey]*flight
	// Block, when set, is called at the start of Python, Shell and their
	// streams (after a stream's output events), so tests can hold a call
	// in flight. Its context ends when Cancel reaches the execution.
	Block     func(ctx context.Context)
	unhealthy bool
	// tokens returns the runtime token of the container at an endpoint;
	// nil accepts any token.
	tokens func(endpoint string) string
}

// SetUnhealthy makes every endpoint's /health fail (or pass again), as a
// runtime that never becomes ready.
func (s *Ship) SetUnhealthy(v bool) {
	s.mu.Lock()
	s.unhealthy = v
	s.mu.Unlock()
}

var _ core.Ship = (*Ship)(nil)

// NewShip returns a fake Ship declaring every capability, each with Ship's
// operations (python and shell with exec, exec_stream and cancel).
func NewShip() *Ship {
	s := &Ship{
		down: map[string]bool{}, files: map[string]*workspace{}, counts: map[string]int64{}, calls: map[string]int{},
		running: map[execKey]*flight{},
	}
	s.SetCapabilities(core.CapabilityFilesystem, core.CapabilityPython, core.CapabilityShell, "terminal")
	return s
}

// operations are Ship's operations of each capability key (agent-reach.md
// §2.7, §6.1).
var operations = map[string][]string{
	core.CapabilityFilesystem: {"create", "read", "write", "edit", "delete", "list", "upload", "download"},
	core.CapabilityPython:     {"exec", core.OpExecStream, core.OpCancel},
	core.CapabilityShell:      {"exec", core.OpExecStream, core.OpCancel, "processes"},
	"terminal":                {"ws"},
}

// SetCapabilities changes the capability keys every endpoint declares;
// each key has Ship's operations (none for a key Ship does not know).
func (s *Ship) SetCapabilities(keys ...string) {
	caps := make(core.RuntimeCapabilities, len(keys))
	for _, k := range keys {
		caps[k] = slices.Clone(operations[k])
		if caps[k] == nil {
			caps[k] = []string{}
		}
	}
	s.SetRuntimeCapabilities(caps)
}

// SetRuntimeCapabilities changes what every endpoint declares, keys and
// operations, e.g. python without exec_stream as an older image does.
func (s *Ship) SetRuntimeCapabilities(caps core.RuntimeCapabilities) {
	caps = cloneCapabilities(caps)
	s.mu.Lock()
	s.caps = caps
	s.mu.Unlock()
}

// SetRuntimeInfoMissing makes RuntimeInfo answer not_found (or the
// document again), as an image older than GET /capabilities does.
func (s *Ship) SetRuntimeInfoMissing(missing bool) {
	s.mu.Lock()
	s.noInfo = missing
	s.mu.Unlock()
}

func cloneCapabilities(caps core.RuntimeCapabilities) core.RuntimeCapabilities {
	out := make(core.RuntimeCapabilities, len(caps))
	for k, ops := range caps {
		out[k] = slices.Clone(ops)
		if out[k] == nil {
			out[k] = []string{}
		}
	}
	return out
}

// SetDown makes endpoint unreachable (or reachable again).
func (s *Ship) SetDown(endpoint string, down bool) {
	s.mu.Lock()
	s.down[endpoint] = down
	s.mu.Unlock()
}

// Calls returns how many calls of the named method reached the fake.
func (s *Ship) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *Ship) enter(endpoint, method string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down[endpoint] {
		return core.Wrap(&core.ErrUnreachable{Err: io.ErrUnexpectedEOF}, core.CodeShipError, "Ship request error: connection refused")
	}
	s.calls[method]++
	return nil
}

// call is enter for the calls that need the runtime token: when the fake
// checks tokens, a missing or wrong one is refused as Ship refuses it.
func (s *Ship) call(ep core.Endpoint, method, route string) error {
	if err := s.enter(ep.URL, method); err != nil {
		return err
	}
	s.mu.Lock()
	tokens := s.tokens
	s.mu.Unlock()
	if tokens == nil {
		return nil
	}
	want := tokens(ep.URL)
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(ep.Token)) != 1 {
		return statusError(route, 401, "missing or invalid runtime token")
	}
	return nil
}

// statusError is the error shipclient makes of an error status of Ship.
func statusError(route string, status int, detail string) error {
	return core.Errorf(core.CodeShipError, "Ship request failed: %d", status).
		WithDetails(map[string]any{"status": status, "ship_path": route, "detail": detail})
}

// CheckTokens makes every call but Health want the runtime token that rt
// gave the container listening at the call's endpoint, as Ship does.
func (s *Ship) CheckTokens(rt *Runtime) {
	s.mu.Lock()
	s.tokens = rt.RuntimeToken
	s.mu.Unlock()
}

// Health implements core.Ship.
func (s *Ship) Health(ctx context.Context, endpoint string) error {
	if err := s.enter(endpoint, "Health"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unhealthy {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// Capabilities implements core.Ship.
func (s *Ship) Capabilities(ctx context.Context, ep core.Endpoint) (core.RuntimeCapabilities, error) {
	if err := s.call(ep, "Capabilities", "/meta"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneCapabilities(s.caps), nil
}

// RuntimeInfo implements core.Ship: a small document of agent-reach.md
// §6.1's shape, built from the declared capabilities, with the types a
// decoded JSON document has.
func (s *Ship) RuntimeInfo(ctx context.Context, ep core.Endpoint) (map[string]any, error) {
	const route = "/capabilities"
	if err := s.call(ep, "RuntimeInfo", route); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noInfo {
		// shipclient's answer to a runtime that serves no /capabilities.
		return nil, core.Errorf(core.CodeNotFound, "Runtime does not serve %s", route).
			WithDetails(map[string]any{"ship_path": route})
	}
	caps := make(map[string]any, len(s.caps))
	for k, ops := range s.caps {
		list := make([]any, 0, len(ops))
		for _, op := range ops {
			list = append(list, op)
		}
		caps[k] = map[string]any{"operations": list}
	}
	return map[string]any{
		"api_version":  "v1",
		"runtime":      map[string]any{"name": "fake", "version": "0.0.0", "image": "fake:latest", "image_digest": nil},
		"workspace":    map[string]any{"mount_path": core.MountPath},
		"capabilities": caps,
	}, nil
}

// ws returns the workspace of endpoint; s.mu is held.
func (s *Ship) ws(endpoint string) *workspace {
	if s.files[endpoint] == nil {
		s.files[endpoint] = &workspace{nodes: map[string]*node{".": {dir: true}}}
	}
	return s.files[endpoint]
}

// ReadFile implements core.Ship.
func (s *Ship) ReadFile(ctx context.Context, ep core.Endpoint, path string) (string, error) {
	const route = "/fs/read_file"
	if err := s.call(ep, "ReadFile", route); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.ws(ep.URL).read(path)
	if err != nil {
		return "", err.as(route)
	}
	return string(b), nil
}

// WriteFile implements core.Ship.
func (s *Ship) WriteFile(ctx context.Context, ep core.Endpoint, path, content string) error {
	const route = "/fs/write_file"
	if err := s.call(ep, "WriteFile", route); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ws(ep.URL).write(path, []byte(content)); err != nil {
		return err.as(route)
	}
	return nil
}

// DeleteFile implements core.Ship.
func (s *Ship) DeleteFile(ctx context.Context, ep core.Endpoint, path string) error {
	const route = "/fs/delete_file"
	if err := s.call(ep, "DeleteFile", route); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ws(ep.URL).delete(path); err != nil {
		return err.as(route)
	}
	return nil
}

// ListDir implements core.Ship.
func (s *Ship) ListDir(ctx context.Context, ep core.Endpoint, path string) ([]core.FileEntry, error) {
	const route = "/fs/list_dir"
	if err := s.call(ep, "ListDir", route); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.ws(ep.URL).list(path)
	if err != nil {
		return nil, err.as(route)
	}
	return out, nil
}

// Upload implements core.Ship.
func (s *Ship) Upload(ctx context.Context, ep core.Endpoint, path string, body io.Reader) (int64, error) {
	const route = "/fs/upload"
	if err := s.call(ep, "Upload", route); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ws(ep.URL).write(path, b); err != nil {
		return 0, err.as(route)
	}
	return int64(len(b)), nil
}

// Download implements core.Ship.
func (s *Ship) Download(ctx context.Context, ep core.Endpoint, path string) (*core.Download, error) {
	const route = "/fs/download"
	if err := s.call(ep, "Download", route); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.ws(ep.URL).read(path)
	if err != nil {
		if err.status == 404 {
			// shipclient turns exactly this status into file_not_found.
			return nil, core.Errorf(core.CodeFileNotFound, "File not found: %s", path).
				WithDetails(map[string]any{"path": path})
		}
		return nil, err.as(route)
	}
	return &core.Download{Size: int64(len(b)), Body: io.NopCloser(bytes.NewReader(b))}, nil
}

// workspace is an in-memory directory tree, keyed by clean paths relative
// to the workspace ("." is the root). It answers with Ship's statuses
// (spec/ship.md §8); cmd/fakeship keeps the same tree behind HTTP, and the
// conformance suite holds both to the real Ship.
type workspace struct {
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

func (e *fsError) as(route string) error { return statusError(route, e.status, e.detail) }

func rel(p string) string {
	if r := strings.TrimPrefix(path.Join("/", p), "/"); r != "" {
		return r
	}
	return "."
}

func (w *workspace) write(p string, data []byte) *fsError {
	r := rel(p)
	if n := w.nodes[r]; n != nil && n.dir {
		return &fsError{400, "Path is not a file: " + p}
	}
	for d := path.Dir(r); d != "."; d = path.Dir(d) {
		if n := w.nodes[d]; n != nil && !n.dir {
			return &fsError{400, "Path is not a directory: " + d}
		}
	}
	for d := path.Dir(r); d != "."; d = path.Dir(d) {
		if w.nodes[d] == nil {
			w.nodes[d] = &node{dir: true, mtime: time.Now()}
		}
	}
	w.nodes[r] = &node{data: slices.Clone(data), mtime: time.Now()}
	return nil
}

func (w *workspace) read(p string) ([]byte, *fsError) {
	n := w.nodes[rel(p)]
	switch {
	case n == nil:
		return nil, &fsError{404, "File not found: " + p}
	case n.dir:
		return nil, &fsError{400, "Path is not a file: " + p}
	}
	return n.data, nil
}

func (w *workspace) delete(p string) *fsError {
	r := rel(p)
	switch {
	case r == ".":
		return &fsError{400, "Refusing to delete the workspace root: " + p}
	case w.nodes[r] == nil:
		return &fsError{404, "Path not found: " + p}
	}
	for k := range w.nodes {
		if k == r || strings.HasPrefix(k, r+"/") {
			delete(w.nodes, k)
		}
	}
	return nil
}

// list returns the entries of a directory as Ship does: no hidden names,
// directories first, then by case-insensitive name.
func (w *workspace) list(p string) ([]core.FileEntry, *fsError) {
	r := rel(p)
	n := w.nodes[r]
	switch {
	case n == nil:
		return nil, &fsError{404, "Directory not found: " + p}
	case !n.dir:
		return nil, &fsError{400, "Path is not a directory: " + p}
	}
	out := []core.FileEntry{}
	for k, n := range w.nodes {
		name := path.Base(k)
		if k == "." || path.Dir(k) != r || strings.HasPrefix(name, ".") {
			continue
		}
		mt := float64(n.mtime.UnixNano()) / 1e9
		e := core.FileEntry{Name: name, Path: path.Join(core.MountPath, k), IsFile: !n.dir, IsDir: n.dir, ModifiedTime: &mt}
		if !n.dir {
			size := int64(len(n.data))
			e.Size = &size
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IsDir != out[j].IsDir {
			return out[i].IsDir
		}
		return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name)
	})
	return out, nil
}

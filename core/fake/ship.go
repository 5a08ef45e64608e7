package fake

import (
	"bytes"
	"context"
	"crypto/subtle"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/bayhq/bay/core"
)

// Ship is an in-memory core.Ship for unit tests of services: every endpoint
// is healthy unless marked down, files live in a map per endpoint, Python
// and shell echo their input. The real Ship is tested on its own and end to
// end; this fake only lets core's rules be tested without containers.
type Ship struct {
	mu    sync.Mutex
	down  map[string]bool
	caps  []string
	files map[string]map[string][]byte
	calls map[string]int
	// Block, when set, is called at the start of Python and Shell, so tests
	// can hold a call in flight.
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

// NewShip returns a fake Ship declaring every capability.
func NewShip() *Ship {
	return &Ship{
		down: map[string]bool{}, files: map[string]map[string][]byte{}, calls: map[string]int{},
		caps: []string{core.CapabilityFilesystem, core.CapabilityPython, core.CapabilityShell, "terminal"},
	}
}

// SetCapabilities changes the capability keys every endpoint declares.
func (s *Ship) SetCapabilities(caps ...string) {
	s.mu.Lock()
	s.caps = caps
	s.mu.Unlock()
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
func (s *Ship) call(ep core.Endpoint, method string) error {
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
		return core.Errorf(core.CodeShipError, "Ship request failed: 401 missing or invalid runtime token")
	}
	return nil
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
func (s *Ship) Capabilities(ctx context.Context, ep core.Endpoint) ([]string, error) {
	if err := s.call(ep, "Capabilities"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.caps...)
	sort.Strings(out)
	return out, nil
}

// Python implements core.Ship: the output is the code.
func (s *Ship) Python(ctx context.Context, ep core.Endpoint, code string, timeout int) (*core.PythonResult, error) {
	if err := s.call(ep, "Python"); err != nil {
		return nil, err
	}
	if s.Block != nil {
		s.Block(ctx)
	}
	return &core.PythonResult{Success: true, Output: code, Data: map[string]any{"text": code, "images": []any{}}}, nil
}

// Shell implements core.Ship: the output is the command.
func (s *Ship) Shell(ctx context.Context, ep core.Endpoint, in core.ShellInput) (*core.ShellResult, error) {
	if err := s.call(ep, "Shell"); err != nil {
		return nil, err
	}
	if s.Block != nil {
		s.Block(ctx)
	}
	zero := int64(0)
	return &core.ShellResult{Success: true, Output: in.Command, ExitCode: &zero}, nil
}

func (s *Ship) fs(endpoint string) map[string][]byte {
	if s.files[endpoint] == nil {
		s.files[endpoint] = map[string][]byte{}
	}
	return s.files[endpoint]
}

// ReadFile implements core.Ship.
func (s *Ship) ReadFile(ctx context.Context, ep core.Endpoint, path string) (string, error) {
	if err := s.call(ep, "ReadFile"); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.fs(ep.URL)[path]
	if !ok {
		return "", core.Errorf(core.CodeShipError, "Ship request failed: 404")
	}
	return string(b), nil
}

// WriteFile implements core.Ship.
func (s *Ship) WriteFile(ctx context.Context, ep core.Endpoint, path, content string) error {
	if err := s.call(ep, "WriteFile"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fs(ep.URL)[path] = []byte(content)
	return nil
}

// DeleteFile implements core.Ship.
func (s *Ship) DeleteFile(ctx context.Context, ep core.Endpoint, path string) error {
	if err := s.call(ep, "DeleteFile"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.fs(ep.URL)[path]; !ok {
		return core.Errorf(core.CodeShipError, "Ship request failed: 404")
	}
	delete(s.fs(ep.URL), path)
	return nil
}

// ListDir implements core.Ship.
func (s *Ship) ListDir(ctx context.Context, ep core.Endpoint, path string) ([]core.FileEntry, error) {
	if err := s.call(ep, "ListDir"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []core.FileEntry{}
	for p, b := range s.fs(ep.URL) {
		if path == "." || strings.HasPrefix(p, path+"/") {
			size := int64(len(b))
			out = append(out, core.FileEntry{Name: p[strings.LastIndex(p, "/")+1:], Path: core.MountPath + "/" + p, IsFile: true, Size: &size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Upload implements core.Ship.
func (s *Ship) Upload(ctx context.Context, ep core.Endpoint, path string, body io.Reader) (int64, error) {
	if err := s.call(ep, "Upload"); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fs(ep.URL)[path] = b
	return int64(len(b)), nil
}

// Download implements core.Ship.
func (s *Ship) Download(ctx context.Context, ep core.Endpoint, path string) (*core.Download, error) {
	if err := s.call(ep, "Download"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.fs(ep.URL)[path]
	if !ok {
		return nil, core.Errorf(core.CodeFileNotFound, "File not found: %s", path)
	}
	return &core.Download{Size: int64(len(b)), Body: io.NopCloser(bytes.NewReader(b))}, nil
}

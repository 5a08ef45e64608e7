package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/core"
)

// The doubles below keep state in memory and return real core errors, so
// the HTTP layer is exercised the way the core services will drive it.

type fakeSandbox struct {
	owner string
	info  core.SandboxInfo
	files map[string][]byte
}

type fakeSandboxes struct {
	mu       sync.Mutex
	now      func() time.Time
	profiles []core.Profile
	boxes    map[string]*fakeSandbox
	seq      int
	// fail makes every call on the sandbox return this error.
	fail map[string]error
	// panicOn makes every call on the sandbox panic.
	panicOn map[string]bool
	// uploads records what Upload received.
	uploads []uploadCall
}

type uploadCall struct {
	path       string
	bytes      int64
	readerType string
	heapInuse  uint64
}

func newFakeSandboxes(now func() time.Time) *fakeSandboxes {
	return &fakeSandboxes{
		now: now,
		profiles: []core.Profile{
			{ID: "python-default", Image: "ship:latest", CPUs: 1, Memory: "1g",
				Capabilities: []string{"filesystem", "shell", "python"}, IdleTimeout: 30 * time.Minute},
			{ID: "python-only", Image: "ship:latest", CPUs: 0.5, Memory: "512m",
				Capabilities: []string{"python"}, IdleTimeout: time.Minute,
				Network: core.NetworkPolicy{Mode: core.NetworkAllowlist, Allow: []core.NetworkRule{{Host: "internal.example", Port: 443}}}},
		},
		boxes:   map[string]*fakeSandbox{},
		fail:    map[string]error{},
		panicOn: map[string]bool{},
	}
}

func (f *fakeSandboxes) profile(id string) *core.Profile {
	for i := range f.profiles {
		if f.profiles[i].ID == id {
			return &f.profiles[i]
		}
	}
	return nil
}

// lookup must be called with f.mu held.
func (f *fakeSandboxes) lookup(owner, id string) (*fakeSandbox, error) {
	if f.panicOn[id] {
		panic("fake sandbox exploded: secret internals")
	}
	if err := f.fail[id]; err != nil {
		return nil, err
	}
	b, ok := f.boxes[id]
	if !ok || b.owner != owner {
		return nil, core.NotFound("Sandbox not found: %s", id)
	}
	return b, nil
}

func (f *fakeSandboxes) Create(ctx context.Context, owner string, in core.CreateSandboxInput) (*core.SandboxInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.Profile == "" {
		in.Profile = "python-default"
	}
	p := f.profile(in.Profile)
	if p == nil {
		return nil, core.Invalid("Invalid profile: %s", in.Profile)
	}
	f.seq++
	now := f.now().UTC()
	info := core.SandboxInfo{
		ID: fmt.Sprintf("sandbox-%012x", f.seq), Status: core.StatusIdle, Profile: in.Profile,
		LockerID: in.LockerID, Capabilities: append([]string(nil), p.Capabilities...), CreatedAt: now,
	}
	if info.LockerID == "" {
		info.LockerID = fmt.Sprintf("locker-%012x", f.seq)
	}
	if in.TTL > 0 {
		if in.TTL > int64(100*365*24*time.Hour/time.Second) {
			return nil, core.Invalid("ttl is too large")
		}
		exp := now.Add(time.Duration(in.TTL) * time.Second)
		info.ExpiresAt = &exp
	}
	f.boxes[info.ID] = &fakeSandbox{owner: owner, info: info, files: map[string][]byte{}}
	out := info
	return &out, nil
}

func (f *fakeSandboxes) Get(ctx context.Context, owner, id string) (*core.SandboxInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := f.lookup(owner, id)
	if err != nil {
		return nil, err
	}
	out := b.info
	return &out, nil
}

func (f *fakeSandboxes) List(ctx context.Context, owner, cursor string, limit int, status string) (core.Page[core.SandboxInfo], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, b := range f.boxes {
		if b.owner == owner && id > cursor && (status == "" || string(b.info.Status) == status) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var page core.Page[core.SandboxInfo]
	for i, id := range ids {
		if i == limit {
			page.NextCursor = ids[i-1]
			break
		}
		page.Items = append(page.Items, f.boxes[id].info)
	}
	return page, nil
}

func (f *fakeSandboxes) ExtendTTL(ctx context.Context, owner, id string, extendBy int64) (*core.SandboxInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if extendBy <= 0 {
		return nil, core.Invalid("extend_by must be a positive integer")
	}
	b, err := f.lookup(owner, id)
	if err != nil {
		return nil, err
	}
	now := f.now()
	switch {
	case b.info.ExpiresAt == nil:
		return nil, core.Errorf(core.CodeSandboxTTLInfinite, "Sandbox has no TTL").WithDetails(map[string]any{"sandbox_id": id})
	case b.info.ExpiresAt.Before(now):
		return nil, core.Errorf(core.CodeSandboxExpired, "Sandbox has expired").WithDetails(map[string]any{"sandbox_id": id})
	}
	exp := b.info.ExpiresAt.Add(time.Duration(extendBy) * time.Second)
	b.info.ExpiresAt = &exp
	out := b.info
	return &out, nil
}

func (f *fakeSandboxes) Keepalive(ctx context.Context, owner, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := f.lookup(owner, id)
	if err != nil {
		return err
	}
	t := f.now().Add(f.profile(b.info.Profile).IdleTimeout)
	b.info.IdleExpiresAt = &t
	return nil
}

func (f *fakeSandboxes) Stop(ctx context.Context, owner, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := f.lookup(owner, id)
	if err != nil {
		return err
	}
	b.info.Status = core.StatusIdle
	b.info.StopReason = core.StopReasonUser
	b.info.IdleExpiresAt = nil
	return nil
}

func (f *fakeSandboxes) Delete(ctx context.Context, owner, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(owner, id); err != nil {
		return err
	}
	delete(f.boxes, id)
	return nil
}

func (f *fakeSandboxes) Profiles() []core.Profile { return f.profiles }

func (f *fakeSandboxes) CheckCapability(ctx context.Context, owner, id, capability string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.capable(owner, id, capability)
	return err
}

// capable runs the pipeline up to expiry; f.mu must be held.
func (f *fakeSandboxes) capable(owner, id, capability string) (*fakeSandbox, error) {
	b, err := f.lookup(owner, id)
	if err != nil {
		return nil, err
	}
	p := f.profile(b.info.Profile)
	if p == nil {
		return nil, core.Errorf(core.CodeCapabilityNotSupported, "Profile not found: %s", b.info.Profile).
			WithDetails(map[string]any{"capability": capability})
	}
	if !p.HasCapability(capability) {
		return nil, core.Errorf(core.CodeCapabilityNotSupported, "Profile '%s' does not support capability: %s", p.ID, capability).
			WithDetails(map[string]any{"capability": capability, "available": p.Capabilities})
	}
	return b, nil
}

func (f *fakeSandboxes) pipeline(owner, id, capability string, paths map[string]string) (*fakeSandbox, map[string]string, error) {
	b, err := f.capable(owner, id, capability)
	if err != nil {
		return nil, nil, err
	}
	norm := map[string]string{}
	for field, p := range paths {
		n, err := core.NormalizePath(field, p)
		if err != nil {
			return nil, nil, err
		}
		norm[field] = n
	}
	if b.info.ExpiresAt != nil && b.info.ExpiresAt.Before(f.now()) {
		return nil, nil, core.Errorf(core.CodeSandboxExpired, "Sandbox has expired").
			WithDetails(map[string]any{"sandbox_id": id, "expires_at": b.info.ExpiresAt.UTC().Format(time.RFC3339Nano)})
	}
	b.info.Status = core.StatusReady
	return b, norm, nil
}

func (f *fakeSandboxes) Python(ctx context.Context, owner, id, code string, timeout int) (*core.PythonResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.pipeline(owner, id, core.CapabilityPython, nil); err != nil {
		return nil, err
	}
	// The double "evaluates" print(<text>) only.
	out, ok := strings.CutPrefix(code, "print(")
	if !ok {
		msg := "NameError: " + code
		return &core.PythonResult{Success: false, Error: &msg, Data: map[string]any{}}, nil
	}
	out = strings.TrimSuffix(out, ")")
	n := int64(1)
	return &core.PythonResult{Success: true, Output: out, ExecutionCount: &n,
		Data: map[string]any{"text": out, "images": []any{}}}, nil
}

func (f *fakeSandboxes) Shell(ctx context.Context, owner, id string, in core.ShellInput) (*core.ShellResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	paths := map[string]string{}
	if in.Cwd != nil {
		paths["cwd"] = *in.Cwd
	}
	_, norm, err := f.pipeline(owner, id, core.CapabilityShell, paths)
	if err != nil {
		return nil, err
	}
	if in.Command == "pwd" {
		dir := core.MountPath
		if c, ok := norm["cwd"]; ok && c != "." {
			dir += "/" + c
		}
		var zero int64
		return &core.ShellResult{Success: true, Output: dir, ExitCode: &zero}, nil
	}
	code := int64(127)
	msg := "bash: " + in.Command + ": command not found"
	return &core.ShellResult{Success: false, Error: &msg, ExitCode: &code}, nil
}

func (f *fakeSandboxes) ReadFile(ctx context.Context, owner, id, path string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, norm, err := f.pipeline(owner, id, core.CapabilityFilesystem, map[string]string{"path": path})
	if err != nil {
		return "", err
	}
	data, ok := b.files[norm["path"]]
	if !ok {
		return "", core.Errorf(core.CodeShipError, "Ship request failed: 404")
	}
	return string(data), nil
}

func (f *fakeSandboxes) WriteFile(ctx context.Context, owner, id, path, content string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, norm, err := f.pipeline(owner, id, core.CapabilityFilesystem, map[string]string{"path": path})
	if err != nil {
		return err
	}
	b.files[norm["path"]] = []byte(content)
	return nil
}

func (f *fakeSandboxes) DeleteFile(ctx context.Context, owner, id, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, norm, err := f.pipeline(owner, id, core.CapabilityFilesystem, map[string]string{"path": path})
	if err != nil {
		return err
	}
	if _, ok := b.files[norm["path"]]; !ok {
		return core.Errorf(core.CodeShipError, "Ship request failed: 404")
	}
	delete(b.files, norm["path"])
	return nil
}

func (f *fakeSandboxes) ListDir(ctx context.Context, owner, id, path string) ([]core.FileEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, norm, err := f.pipeline(owner, id, core.CapabilityFilesystem, map[string]string{"path": path})
	if err != nil {
		return nil, err
	}
	prefix := ""
	if norm["path"] != "." {
		prefix = norm["path"] + "/"
	}
	var out []core.FileEntry
	for name, data := range b.files {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || strings.Contains(rest, "/") {
			continue
		}
		size := int64(len(data))
		mt := 1769756400.5
		out = append(out, core.FileEntry{Name: rest, Path: core.MountPath + "/" + name, IsFile: true, Size: &size, ModifiedTime: &mt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeSandboxes) Upload(ctx context.Context, owner, id, path string, body io.Reader) (*core.UploadResult, error) {
	f.mu.Lock()
	_, norm, err := f.pipeline(owner, id, core.CapabilityFilesystem, map[string]string{"path": path})
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Count instead of storing, as a real upload streams to Ship.
	call := uploadCall{path: norm["path"], readerType: fmt.Sprintf("%T", body)}
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		call.bytes += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, core.Wrap(err, core.CodeShipError, "Ship request error: upload")
		}
	}
	call.heapInuse = heapInuse()
	f.mu.Lock()
	f.uploads = append(f.uploads, call)
	f.mu.Unlock()
	return &core.UploadResult{Path: norm["path"], Size: call.bytes}, nil
}

func (f *fakeSandboxes) Download(ctx context.Context, owner, id, path string) (*core.Download, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, norm, err := f.pipeline(owner, id, core.CapabilityFilesystem, map[string]string{"path": path})
	if err != nil {
		return nil, err
	}
	data, ok := b.files[norm["path"]]
	if !ok {
		return nil, core.Errorf(core.CodeFileNotFound, "File not found: %s", norm["path"])
	}
	name := norm["path"][strings.LastIndex(norm["path"], "/")+1:]
	return &core.Download{Name: name, Size: int64(len(data)), Body: io.NopCloser(bytes.NewReader(data))}, nil
}

type fakeLockers struct {
	mu      sync.Mutex
	now     func() time.Time
	lockers map[string]*core.Locker
	files   map[string]map[string]string
	seq     int
}

func newFakeLockers(now func() time.Time) *fakeLockers {
	return &fakeLockers{now: now, lockers: map[string]*core.Locker{}, files: map[string]map[string]string{}}
}

func (f *fakeLockers) Create(ctx context.Context, owner string, sizeLimitMB *int64) (*core.Locker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	size := int64(1024)
	if sizeLimitMB != nil {
		size = *sizeLimitMB
	}
	now := f.now().UTC()
	l := &core.Locker{ID: fmt.Sprintf("locker-%012x", 0xf00000+f.seq), Owner: owner, Backend: core.LockerBackendDockerVolume,
		SizeLimitMB: size, CreatedAt: now, UpdatedAt: now, LastAccessedAt: now}
	f.lockers[l.ID] = l
	f.files[l.ID] = map[string]string{}
	out := *l
	return &out, nil
}

func (f *fakeLockers) get(owner, id string) (*core.Locker, error) {
	l, ok := f.lockers[id]
	if !ok || l.Owner != owner {
		return nil, core.NotFound("Locker not found: %s", id)
	}
	return l, nil
}

func (f *fakeLockers) Get(ctx context.Context, owner, id string) (*core.Locker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.get(owner, id)
	if err != nil {
		return nil, err
	}
	out := *l
	return &out, nil
}

func (f *fakeLockers) List(ctx context.Context, owner, cursor string, limit int, managed bool) (core.Page[*core.Locker], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, l := range f.lockers {
		if l.Owner == owner && l.Managed == managed && id > cursor {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var page core.Page[*core.Locker]
	for i, id := range ids {
		if i == limit {
			page.NextCursor = ids[i-1]
			break
		}
		l := *f.lockers[id]
		page.Items = append(page.Items, &l)
	}
	return page, nil
}

func (f *fakeLockers) Delete(ctx context.Context, owner, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.get(owner, id); err != nil {
		return err
	}
	delete(f.lockers, id)
	return nil
}

func (f *fakeLockers) ReadFile(ctx context.Context, owner, id, path string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.get(owner, id); err != nil {
		return "", err
	}
	p, err := core.NormalizePath("path", path)
	if err != nil {
		return "", err
	}
	content, ok := f.files[id][p]
	if !ok {
		return "", core.Errorf(core.CodeFileNotFound, "File not found: %s", p)
	}
	return content, nil
}

func (f *fakeLockers) WriteFile(ctx context.Context, owner, id, path, content string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.get(owner, id); err != nil {
		return err
	}
	p, err := core.NormalizePath("path", path)
	if err != nil {
		return err
	}
	f.files[id][p] = content
	return nil
}

type fakeGC struct {
	mu      sync.Mutex
	running bool
	calls   [][]string
}

func (f *fakeGC) Run(ctx context.Context, tasks []string) (*core.GCReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		return nil, core.Errorf(core.CodeGCRunning, "GC is already running")
	}
	f.calls = append(f.calls, tasks)
	all := []core.GCTaskResult{
		{TaskName: core.GCIdleSession, CleanedCount: 1},
		{TaskName: core.GCExpiredSandbox},
		{TaskName: core.GCOrphanLocker, Errors: []string{"volume busy"}},
	}
	rep := &core.GCReport{Duration: 245 * time.Millisecond}
	for _, r := range all {
		if tasks != nil && !contains(tasks, r.TaskName) {
			continue
		}
		rep.Results = append(rep.Results, r)
		rep.TotalCleaned += r.CleanedCount
		rep.TotalErrors += len(r.Errors)
	}
	return rep, nil
}

func (f *fakeGC) Status() core.GCStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return core.GCStatus{Enabled: true, IsRunning: f.running, InstanceID: "bay-test", IntervalSeconds: 300,
		Tasks: map[string]bool{core.GCIdleSession: true, core.GCExpiredSandbox: true, core.GCOrphanLocker: true, core.GCOrphanContainer: false}}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var keyFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

type idemRecord struct {
	fingerprint string
	status      int
	body        []byte
}

// fakeIdempotency follows lifecycle.md §9 without expiry.
type fakeIdempotency struct {
	mu      sync.Mutex
	records map[[2]string]idemRecord
}

func newFakeIdempotency() *fakeIdempotency {
	return &fakeIdempotency{records: map[[2]string]idemRecord{}}
}

func (f *fakeIdempotency) Do(ctx context.Context, owner, key, fingerprint string, fn func(ctx context.Context) (int, []byte, error)) (int, []byte, error) {
	if key == "" {
		return fn(ctx)
	}
	if !keyFormat.MatchString(key) {
		return 0, nil, core.Conflict("Invalid Idempotency-Key format: must be 1-128 alphanumeric characters, dash, or underscore").
			WithDetails(map[string]any{"key": key})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec, ok := f.records[[2]string{owner, key}]; ok {
		if rec.fingerprint != fingerprint {
			return 0, nil, core.Conflict("Idempotency key already used with different request parameters").
				WithDetails(map[string]any{"key": key, "hint": "Use a different Idempotency-Key for different request parameters"})
		}
		return rec.status, rec.body, nil
	}
	status, body, err := fn(ctx)
	if err != nil {
		return 0, nil, err
	}
	f.records[[2]string{owner, key}] = idemRecord{fingerprint: fingerprint, status: status, body: body}
	return status, body, nil
}

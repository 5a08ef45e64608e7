package fake

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bayhq/bay/core"
)

// Op names a Runtime method, for FailNext and Calls.
type Op string

// Runtime operations.
const (
	OpCreateVolume     Op = "CreateVolume"
	OpDeleteVolume     Op = "DeleteVolume"
	OpCreateContainer  Op = "CreateContainer"
	OpStartContainer   Op = "StartContainer"
	OpStopContainer    Op = "StopContainer"
	OpRemoveContainer  Op = "RemoveContainer"
	OpContainerState   Op = "ContainerState"
	OpPauseContainer   Op = "PauseContainer"
	OpUnpauseContainer Op = "UnpauseContainer"
	OpListContainers   Op = "ListContainers"
)

// RuntimeOptions configures a fake Runtime.
type RuntimeOptions struct {
	// Clock stamps container creation; nil means core.SystemClock.
	Clock core.Clock
	// Images, when non-nil, lists the images that exist; creating a
	// container from any other fails as on Docker. Nil accepts every image.
	Images []string
	// Endpoint returns a started container's endpoint; nil gives
	// http://<container name>:<port>, the network owner's name for a
	// container that joined it. Tests of services that call the runtime
	// point it at an httptest server.
	Endpoint func(info core.ContainerInfo, port int) string
}

// Runtime is an in-memory core.Runtime that mirrors the Docker adapter's
// behaviour: names, labels, environment, adoption, volume conflicts. It is
// safe for concurrent use.
type Runtime struct {
	opts   RuntimeOptions
	images map[string]bool

	mu         sync.Mutex
	seq        int
	containers map[string]*core.ContainerInfo // by id
	volumes    map[string]core.VolumeSpec     // by volume name
	labels     map[string]map[string]string   // volume labels by name
	fail       map[Op][]error
	calls      map[Op]int
	files      map[string]map[string][]byte  // volume name → path → content
	endpoints  map[string]string             // container id → endpoint of its last start
	specs      map[string]core.ContainerSpec // container id → what it was created from
	order      []string                      // ids of the starts, in order
	removed    []string                      // ids of the removed containers, in order
	stops      []Stop
}

var _ core.Runtime = (*Runtime)(nil)

// NewRuntime returns an empty fake Runtime.
func NewRuntime(opts RuntimeOptions) *Runtime {
	if opts.Clock == nil {
		opts.Clock = core.SystemClock{}
	}
	r := &Runtime{
		opts:       opts,
		containers: make(map[string]*core.ContainerInfo),
		endpoints:  make(map[string]string),
		specs:      make(map[string]core.ContainerSpec),
		volumes:    make(map[string]core.VolumeSpec),
		labels:     make(map[string]map[string]string),
		fail:       make(map[Op][]error),
		calls:      make(map[Op]int),
	}
	if opts.Images != nil {
		r.images = make(map[string]bool, len(opts.Images))
		for _, img := range opts.Images {
			r.images[img] = true
		}
	}
	return r
}

// FailNext makes the next call of op return err instead of doing anything.
// Several calls queue errors for successive calls.
func (r *Runtime) FailNext(op Op, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[op] = append(r.fail[op], err)
}

// Calls returns how often op was called, failed calls included.
func (r *Runtime) Calls(op Op) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[op]
}

// Exit marks a container as exited, as if its runtime had crashed.
func (r *Runtime) Exit(containerID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.containers[containerID]; c != nil {
		c.State = core.ContainerExited
	}
}

// VolumeLabels returns the labels of a volume, nil if it does not exist.
func (r *Runtime) VolumeLabels(lockerID string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.labels[core.VolumeName(lockerID)])
}

// begin counts a call of op and returns its injected error, if any. The
// caller holds r.mu.
func (r *Runtime) begin(ctx context.Context, op Op) error {
	r.calls[op]++
	if q := r.fail[op]; len(q) > 0 {
		r.fail[op] = q[1:]
		return q[0]
	}
	if err := ctx.Err(); err != nil {
		return core.Wrap(err, core.CodeTimeout, string(op))
	}
	return nil
}

// CreateVolume records the volume; an existing one is kept as it is.
func (r *Runtime) CreateVolume(ctx context.Context, v core.VolumeSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpCreateVolume); err != nil {
		return err
	}
	name := core.VolumeName(v.LockerID)
	if _, ok := r.volumes[name]; ok {
		return nil
	}
	r.volumes[name] = v
	r.labels[name] = map[string]string{
		core.LabelOwner:    v.Owner,
		core.LabelLockerID: v.LockerID,
		core.LabelManaged:  strconv.FormatBool(v.Managed),
	}
	return nil
}

// DeleteVolume forgets the volume unless a container, running or not, uses
// it.
func (r *Runtime) DeleteVolume(ctx context.Context, lockerID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpDeleteVolume); err != nil {
		return err
	}
	name := core.VolumeName(lockerID)
	for _, c := range r.containers {
		for _, m := range c.Mounts {
			if m.Volume == name {
				return core.Conflict("volume %s is in use by container %s", name, c.ID)
			}
		}
	}
	delete(r.volumes, name)
	delete(r.labels, name)
	return nil
}

// CreateContainer records a created container, adopting one of the same
// session and container as the Docker adapter does. A container with a
// network owner needs the owner to exist.
func (r *Runtime) CreateContainer(ctx context.Context, spec core.ContainerSpec) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpCreateContainer); err != nil {
		return "", err
	}
	if spec.Profile == nil || spec.ContainerProfile().Image == "" {
		return "", core.Invalid("container spec of session %s has no profile image", spec.SessionID)
	}
	if spec.SessionID == "" || spec.LockerID == "" {
		return "", core.Invalid("container spec needs a session id and a locker id")
	}
	c := spec.ContainerProfile()
	if r.images != nil && !r.images[c.Image] {
		return "", &core.Error{
			Code:    core.CodeInternal,
			Message: fmt.Sprintf("image %q is not present on the runtime host", c.Image),
			Details: map[string]any{"image": c.Image},
			Err:     core.ErrImageMissing,
		}
	}
	if spec.JoinsNetwork() && r.containers[spec.NetworkOwner] == nil {
		return "", core.Errorf(core.CodeInternal, "network owner %s of %s not found", spec.NetworkOwner, spec.Name())
	}
	name := spec.Name()
	for id, have := range r.containers {
		if have.Name != name {
			continue
		}
		if have.Labels[core.LabelSessionID] == spec.SessionID &&
			have.Labels[core.LabelSandboxID] == spec.SandboxID &&
			have.Labels[core.LabelLockerID] == spec.LockerID &&
			have.Labels[core.LabelContainer] == c.Name &&
			have.NetworkOwner == spec.NetworkOwner {
			return id, nil
		}
		delete(r.containers, id)
		delete(r.endpoints, id)
	}

	vol := core.VolumeName(spec.LockerID)
	if _, ok := r.volumes[vol]; !ok {
		// Docker creates a missing named volume, without labels.
		r.volumes[vol] = core.VolumeSpec{LockerID: spec.LockerID}
		r.labels[vol] = map[string]string{}
	}
	r.seq++
	id := fmt.Sprintf("%064x", r.seq)
	r.containers[id] = &core.ContainerInfo{
		ID:           id,
		Name:         name,
		Image:        c.Image,
		Labels:       spec.Labels(""),
		State:        core.ContainerCreated,
		Created:      r.opts.Clock.Now(),
		Env:          spec.Env(),
		Mounts:       []core.Mount{{Volume: vol, Target: core.MountPath}},
		NanoCPUs:     int64(c.CPUs * 1e9),
		MemoryBytes:  c.MemoryBytes,
		PidsLimit:    c.PidsLimitOrDefault(),
		NetworkOwner: spec.NetworkOwner,
	}
	r.specs[id] = spec
	return id, nil
}

// Spec returns the spec a container was created from, and whether it
// exists.
func (r *Runtime) Spec(containerID string) (core.ContainerSpec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	spec, ok := r.specs[containerID]
	return spec, ok && r.containers[containerID] != nil
}

// StartContainer marks the container running and returns its endpoint. A
// container that joins another's network needs that one running, as on
// Docker, and gets its host: by default http://<owner name>:<port>.
func (r *Runtime) StartContainer(ctx context.Context, containerID string, runtimePort int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpStartContainer); err != nil {
		return "", err
	}
	c := r.containers[containerID]
	if c == nil {
		return "", core.NotFound("container %s not found", containerID)
	}
	if c.State == core.ContainerPaused {
		return "", core.Conflict("cannot start a paused container %s", containerID)
	}
	host := c
	if c.NetworkOwner != "" {
		host = r.containers[c.NetworkOwner]
		if host == nil || host.State != core.ContainerRunning {
			return "", core.Errorf(core.CodeInternal, "cannot join network of a non running container: %s", c.NetworkOwner)
		}
	}
	runtimePort = core.RuntimePortOrDefault(runtimePort)
	c.State = core.ContainerRunning
	ep := fmt.Sprintf("http://%s:%d", host.Name, runtimePort)
	if r.opts.Endpoint != nil {
		ep = r.opts.Endpoint(clone(c), runtimePort)
	}
	r.endpoints[containerID] = ep
	r.order = append(r.order, containerID)
	return ep, nil
}

// Started returns the ids of the containers started so far, in the order
// of their starts.
func (r *Runtime) Started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

// Removed returns the ids of the containers removed so far, in order.
func (r *Runtime) Removed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.removed...)
}

// Stopped returns the ids of the containers stopped so far (StopContainer),
// in order, each with the grace it was given.
func (r *Runtime) Stopped() []Stop {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Stop(nil), r.stops...)
}

// Stop is one StopContainer call.
type Stop struct {
	ContainerID string
	Grace       time.Duration
}

// RuntimeToken returns the runtime token of the running container last
// started at endpoint, or "" if none runs there.
func (r *Runtime) RuntimeToken(endpoint string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, ep := range r.endpoints {
		if c := r.containers[id]; ep == endpoint && c != nil && c.State == core.ContainerRunning {
			return c.Env[core.EnvRuntimeToken]
		}
	}
	return ""
}

// StopContainer marks the container exited, a paused one too.
func (r *Runtime) StopContainer(ctx context.Context, containerID string, grace time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpStopContainer); err != nil {
		return err
	}
	r.stops = append(r.stops, Stop{ContainerID: containerID, Grace: grace})
	if c := r.containers[containerID]; c != nil && (c.State == core.ContainerRunning || c.State == core.ContainerPaused) {
		c.State = core.ContainerExited
	}
	return nil
}

// PauseContainer marks a running container paused. A paused one stays
// paused; a missing one is not_found, any other conflict, as on Docker.
func (r *Runtime) PauseContainer(ctx context.Context, containerID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpPauseContainer); err != nil {
		return err
	}
	c := r.containers[containerID]
	switch {
	case c == nil:
		return core.NotFound("container %s not found", containerID)
	case c.State == core.ContainerRunning:
		c.State = core.ContainerPaused
	case c.State != core.ContainerPaused:
		return core.Conflict("container %s is not running", containerID)
	}
	return nil
}

// UnpauseContainer marks a paused container running; any other state is
// left alone. A missing container is not_found.
func (r *Runtime) UnpauseContainer(ctx context.Context, containerID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpUnpauseContainer); err != nil {
		return err
	}
	c := r.containers[containerID]
	if c == nil {
		return core.NotFound("container %s not found", containerID)
	}
	if c.State == core.ContainerPaused {
		c.State = core.ContainerRunning
	}
	return nil
}

// RemoveContainer forgets the container.
func (r *Runtime) RemoveContainer(ctx context.Context, containerID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpRemoveContainer); err != nil {
		return err
	}
	if r.containers[containerID] != nil {
		r.removed = append(r.removed, containerID)
	}
	delete(r.containers, containerID)
	delete(r.endpoints, containerID)
	delete(r.specs, containerID)
	return nil
}

// ContainerState returns the recorded state.
func (r *Runtime) ContainerState(ctx context.Context, containerID string) (core.ContainerState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpContainerState); err != nil {
		return "", err
	}
	if c := r.containers[containerID]; c != nil {
		return c.State, nil
	}
	return core.ContainerNotFound, nil
}

// ListContainers returns copies of the containers carrying every label.
func (r *Runtime) ListContainers(ctx context.Context, labels map[string]string) ([]core.ContainerInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpListContainers); err != nil {
		return nil, err
	}
	var out []core.ContainerInfo
next:
	for _, c := range r.containers {
		for k, v := range labels {
			if have, ok := c.Labels[k]; !ok || have != v {
				continue next
			}
		}
		out = append(out, clone(c))
	}
	return out, nil
}

// clone deep-copies a container record so callers cannot change it.
func clone(c *core.ContainerInfo) core.ContainerInfo {
	out := *c
	out.Labels = maps.Clone(c.Labels)
	out.Env = maps.Clone(c.Env)
	out.Mounts = append([]core.Mount(nil), c.Mounts...)
	return out
}

// Volume file operations.
const (
	OpReadVolumeFile  Op = "ReadVolumeFile"
	OpWriteVolumeFile Op = "WriteVolumeFile"
)

// ReadVolumeFile returns a file written with WriteVolumeFile.
func (r *Runtime) ReadVolumeFile(ctx context.Context, lockerID, path string, maxBytes int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpReadVolumeFile); err != nil {
		return nil, err
	}
	files := r.files[core.VolumeName(lockerID)]
	b, ok := files[path]
	if !ok {
		for p := range files {
			if strings.HasPrefix(p, path+"/") {
				return nil, core.Invalid("Path is not a file: %s", path)
			}
		}
		return nil, core.Errorf(core.CodeFileNotFound, "File not found: %s", path)
	}
	if int64(len(b)) > maxBytes {
		return nil, core.Invalid("File is larger than %d bytes: %s", maxBytes, path)
	}
	return append([]byte(nil), b...), nil
}

// WriteVolumeFile stores a file in the volume's in-memory tree.
func (r *Runtime) WriteVolumeFile(ctx context.Context, lockerID, path string, content []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, OpWriteVolumeFile); err != nil {
		return err
	}
	name := core.VolumeName(lockerID)
	if r.files == nil {
		r.files = map[string]map[string][]byte{}
	}
	if r.files[name] == nil {
		r.files[name] = map[string][]byte{}
	}
	for p := range r.files[name] {
		if strings.HasPrefix(path, p+"/") {
			return core.Invalid("Path component is not a directory: %s", p)
		}
		if strings.HasPrefix(p, path+"/") {
			return core.Invalid("Path is not a file: %s", path)
		}
	}
	r.files[name][path] = append([]byte(nil), content...)
	return nil
}

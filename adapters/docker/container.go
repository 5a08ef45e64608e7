package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/bayhq/bay/core"
)

// capsRoot are the capabilities Ship keeps of Docker's default set. Ship's
// entrypoint runs as root only to prepare /workspace and then runs every
// user-facing process as uid/gid 1000 (ship.md §2); everything else is
// dropped so that a process escaping to root can do little.
var capsRoot = []string{
	"CHOWN",        // chown /workspace and files Ship creates to 1000:1000
	"DAC_OVERRIDE", // read and write workspace files owned by other uids while root
	"FOWNER",       // chmod and set times on files root does not own
	"SETUID",       // switch to uid 1000 before spawning the kernel and shells
	"SETGID",       // switch to gid 1000 and set supplementary groups
	"KILL",         // signal the user's processes (timeouts, kernel restart) across uids
}

// capsSudo are added for profiles with allow_sudo: sudo writes an audit
// record for each use and refuses to run in some configurations when it
// cannot.
var capsSudo = []string{"AUDIT_WRITE"}

// CreateContainer creates one container of a session (lifecycle.md §13.1,
// browser.md §1.3). A name conflict means a container of an earlier attempt
// survived a crash before its id was recorded; it is adopted (§5.3). The
// session's first container owns its network namespace, sealed by a guard;
// the others join that namespace and need no guard of their own.
func (r *Runtime) CreateContainer(ctx context.Context, spec core.ContainerSpec) (string, error) {
	if spec.Profile == nil || spec.ContainerProfile().Image == "" {
		return "", core.Invalid("container spec of session %s has no profile image", spec.SessionID)
	}
	if spec.SessionID == "" || spec.LockerID == "" {
		return "", core.Invalid("container spec needs a session id and a locker id")
	}
	name := spec.Name()
	if spec.JoinsNetwork() {
		cfg, hostCfg := r.containerConfig(ctx, spec, "")
		return r.createContainer(ctx, spec, name, cfg, hostCfg)
	}
	netName, err := r.resolveNetwork(ctx)
	if err != nil {
		return "", err
	}
	pol, hosts, err := r.policyFor(ctx, spec.Profile)
	if err != nil {
		return "", err
	}
	cfg, hostCfg := r.containerConfig(ctx, spec, netName)
	hostCfg.ExtraHosts = hosts
	id, err := r.createContainer(ctx, spec, name, cfg, hostCfg)
	if err != nil {
		return "", err
	}
	if err := r.createGuard(ctx, id, spec, pol); err != nil {
		// Without its guard the container must never start.
		if rerr := r.RemoveContainer(context.WithoutCancel(ctx), id); rerr != nil {
			r.log.WarnContext(ctx, "remove container without a network guard", "container_id", id, "err", rerr)
		}
		return "", err
	}
	return id, nil
}

// createContainer creates the container named name, adopting one left by
// an earlier attempt of the same session.
func (r *Runtime) createContainer(ctx context.Context, spec core.ContainerSpec, name string, cfg *container.Config, hostCfg *container.HostConfig) (string, error) {

	// A conflicting container that cannot be adopted is removed and the
	// create retried. Docker reserves the name before a concurrent create
	// makes the container inspectable, and a removal takes a moment, so the
	// rounds back off: 8 rounds wait at most about 3 s in total.
	wait := 25 * time.Millisecond
	for round := range 8 {
		if round > 0 {
			select {
			case <-ctx.Done():
				return "", translate(ctx, ctx.Err(), "create container "+name)
			case <-time.After(wait):
			}
			wait *= 2
		}
		resp, err := r.api().ContainerCreate(ctx, cfg, hostCfg, &network.NetworkingConfig{}, nil, name)
		switch {
		case err == nil:
			return resp.ID, nil
		case cerrdefs.IsConflict(err):
			id, err := r.adopt(ctx, name, spec)
			if err != nil || id != "" {
				return id, err
			}
		case cerrdefs.IsNotFound(err):
			r.forgetNetwork() // the daemon also answers 404 for a vanished network
			return "", r.missingImage(ctx, spec.ContainerProfile().Image, err, name)
		default:
			return "", translate(ctx, err, "create container "+name)
		}
	}
	return "", core.Conflict("container %s: name still taken after removing the old container", name)
}

// missingImage explains a 404 from container create. The daemon answers 404
// for a missing image but also for a network that vanished since it was
// checked, so the image is looked up to tell which.
func (r *Runtime) missingImage(ctx context.Context, image string, createErr error, name string) error {
	_, err := r.api().ImageInspect(ctx, image)
	if err == nil || !cerrdefs.IsNotFound(err) {
		return translate(ctx, createErr, "create container "+name)
	}
	return &core.Error{
		Code:    core.CodeInternal,
		Message: fmt.Sprintf("image %q is not present on the docker host (Bay does not pull images): %s", image, BuildHint(image)),
		Details: map[string]any{"image": image},
		Err:     fmt.Errorf("%w: %w", core.ErrImageMissing, createErr),
	}
}

// BuildHint tells an operator how to provide a missing image: Bay's own
// images are built by the script in its source tree, others are loaded.
func BuildHint(image string) string {
	return fmt.Sprintf("build it with `images/build.sh image %s` in Bay's source tree, or load it with `docker load`", image)
}

// ImagePresent reports whether the image is on the Docker host.
func (r *Runtime) ImagePresent(ctx context.Context, image string) (bool, error) {
	_, err := r.api().ImageInspect(ctx, image)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, translate(ctx, err, "inspect image "+image)
	}
}

// adopt inspects the container holding name. It returns the container's id
// if it belongs to the same session, sandbox, locker and container, joins
// the same network owner, and can still run. Otherwise it removes the
// container and returns "" so the caller creates it anew.
func (r *Runtime) adopt(ctx context.Context, name string, spec core.ContainerSpec) (string, error) {
	info, err := r.api().ContainerInspect(ctx, name)
	if cerrdefs.IsNotFound(err) {
		return "", nil // removed meanwhile; create again
	}
	if err != nil {
		return "", translate(ctx, err, "inspect conflicting container "+name)
	}
	var labels map[string]string
	if info.Config != nil {
		labels = info.Config.Labels
	}
	owner := ""
	if info.ContainerJSONBase != nil && info.HostConfig != nil && info.HostConfig.NetworkMode.IsContainer() {
		owner = info.HostConfig.NetworkMode.ConnectedContainer()
	}
	// A container of a Bay that did not label containers yet can only be
	// a session's first.
	sameContainer := labels[core.LabelContainer] == spec.ContainerProfile().Name ||
		(labels[core.LabelContainer] == "" && !spec.JoinsNetwork())
	state := stateOf(info.State)
	if labels[core.LabelManaged] == "true" &&
		labels[core.LabelSessionID] == spec.SessionID &&
		labels[core.LabelSandboxID] == spec.SandboxID &&
		labels[core.LabelLockerID] == spec.LockerID &&
		sameContainer && owner == spec.NetworkOwner &&
		state != core.ContainerRemoving {
		r.log.InfoContext(ctx, "adopting existing container", "container_id", info.ID, "session_id", spec.SessionID)
		return info.ID, nil
	}
	r.log.WarnContext(ctx, "removing container in the way of a session",
		"container_id", info.ID, "session_id", spec.SessionID, "state", string(state))
	if err := r.RemoveContainer(ctx, info.ID); err != nil {
		return "", err
	}
	return "", nil
}

// containerConfig builds the create request of lifecycle.md §13.1 for one
// container of a session (browser.md §1.3, §6). The network owner joins
// netName and publishes every container's port; another container joins
// the owner's namespace and may set none of ports, host name or network.
func (r *Runtime) containerConfig(ctx context.Context, spec core.ContainerSpec, netName string) (*container.Config, *container.HostConfig) {
	c := spec.ContainerProfile()
	labels := r.labels(spec.Labels(r.opts.InstanceID))
	sec := spec.Security()

	cfg := &container.Config{
		Image:  c.Image,
		Env:    env(spec),
		Labels: labels,
		User:   sec.User,
	}

	pids := c.PidsLimitOrDefault()
	caps := slices.Clone(capsRoot)
	var secOpt []string
	switch {
	case sec.NoCapabilities:
		caps = nil
		secOpt = []string{"no-new-privileges:true"}
	case spec.Profile.AllowSudo:
		caps = append(caps, capsSudo...)
	default:
		// Keeps setuid binaries such as sudo from raising privileges, for
		// the kernel, the shells and everything they start.
		secOpt = []string{"no-new-privileges:true"}
	}
	if sec.UserNamespaces {
		if profile := r.userNSSeccomp(ctx); profile != "" {
			secOpt = append(secOpt, "seccomp="+profile)
		}
	}
	hostCfg := &container.HostConfig{
		// Docker creates a missing named volume on the fly, without Bay's
		// labels; core creates the locker's volume before any container.
		Mounts: []mount.Mount{{
			Type:   mount.TypeVolume,
			Source: core.VolumeName(spec.LockerID),
			Target: core.MountPath,
		}},
		Resources: container.Resources{
			Memory:    c.MemoryBytes,
			NanoCPUs:  int64(c.CPUs * 1e9),
			PidsLimit: &pids,
		},
		CapDrop:        []string{"ALL"},
		CapAdd:         caps,
		SecurityOpt:    secOpt,
		Privileged:     false,
		ReadonlyRootfs: sec.ReadOnlyRootfs,
		Tmpfs:          sec.Tmpfs,
		ShmSize:        c.ShmBytes,
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		AutoRemove:     false,
	}
	if spec.JoinsNetwork() {
		hostCfg.NetworkMode = container.NetworkMode("container:" + spec.NetworkOwner)
		return cfg, hostCfg
	}
	cfg.ExposedPorts = nat.PortSet{}
	publish := r.opts.PublishPorts && (r.opts.ConnectMode == ConnectHostPort || r.opts.ConnectMode == ConnectAuto)
	for i, port := range spec.PublishedPorts() {
		natPort := nat.Port(strconv.Itoa(port) + "/tcp")
		cfg.ExposedPorts[natPort] = struct{}{}
		if !publish {
			continue
		}
		hostPort := ""
		if r.opts.HostPort > 0 && i == 0 {
			// A fixed host port is the owner's own runtime's; the others'
			// are random.
			hostPort = strconv.Itoa(r.opts.HostPort)
		}
		if hostCfg.PortBindings == nil {
			hostCfg.PortBindings = nat.PortMap{}
		}
		// Published on the configured host address (loopback unless the
		// operator chose otherwise): a port bound to every interface would
		// be reachable from other machines and, through the bridge
		// gateway, from other sandboxes.
		hostCfg.PortBindings[natPort] = []nat.PortBinding{{HostIP: r.opts.HostAddress, HostPort: hostPort}}
	}
	if netName != "" {
		hostCfg.NetworkMode = container.NetworkMode(netName)
	}
	return cfg, hostCfg
}

// env returns the container's environment as KEY=VALUE, sorted so that
// equal specs give equal requests.
func env(spec core.ContainerSpec) []string {
	all := spec.Env()
	out := make([]string, 0, len(all))
	for _, k := range slices.Sorted(maps.Keys(all)) {
		out = append(out, k+"="+all[k])
	}
	return out
}

// SandboxNetwork is the bridge network Bay creates for runtime containers
// when no network is configured. Inter-container communication is off on
// it: the bridge forwards nothing between two sandboxes (each sandbox's
// guard rejects such traffic as well).
const SandboxNetwork = "bay-sandboxes"

// resolveNetwork returns the network to attach containers to: the
// configured one in the container_network and auto modes when it exists
// (config.md §2.3), otherwise (by id) Bay's own SandboxNetwork, created if
// missing. The answer is kept once the daemon gave one.
func (r *Runtime) resolveNetwork(ctx context.Context) (string, error) {
	r.netMu.Lock()
	defer r.netMu.Unlock()
	if r.netChecked {
		return r.netName, nil
	}
	if r.opts.Network != "" && r.opts.ConnectMode != ConnectHostPort {
		_, err := r.api().NetworkInspect(ctx, r.opts.Network, network.InspectOptions{})
		switch {
		case err == nil:
			r.netName, r.netChecked = r.opts.Network, true
			return r.netName, nil
		case cerrdefs.IsNotFound(err):
			r.log.WarnContext(ctx, "docker network not found; using Bay's own", "network", r.opts.Network, "instead", SandboxNetwork)
		default:
			return "", translate(ctx, err, "inspect network "+r.opts.Network)
		}
	}
	id, err := r.ensureSandboxNetwork(ctx)
	if err != nil {
		return "", err
	}
	r.netName, r.netChecked = id, true
	return r.netName, nil
}

// forgetNetwork makes the next create check the network again.
func (r *Runtime) forgetNetwork() {
	r.netMu.Lock()
	r.netChecked = false
	r.netMu.Unlock()
}

// ensureSandboxNetwork returns the id of SandboxNetwork, creating it if
// missing. Its MTU is the default bridge's: the daemon applies its
// configured MTU to that bridge only, and a larger MTU inside than on the
// host's uplink loses big packets. Docker does not make network names
// unique under concurrent creates (two Bay processes starting together), so
// when several networks carry the name, the oldest is used by everyone and
// the others are removed.
func (r *Runtime) ensureSandboxNetwork(ctx context.Context) (string, error) {
	for attempt := 0; ; attempt++ {
		list, err := r.api().NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", SandboxNetwork))})
		if err != nil {
			return "", translate(ctx, err, "list networks")
		}
		list = slices.DeleteFunc(list, func(n network.Summary) bool { return n.Name != SandboxNetwork }) // the filter matches substrings
		if len(list) > 0 {
			slices.SortFunc(list, func(a, b network.Summary) int {
				if c := a.Created.Compare(b.Created); c != 0 {
					return c
				}
				return strings.Compare(a.ID, b.ID)
			})
			for _, extra := range list[1:] {
				_ = r.api().NetworkRemove(ctx, extra.ID) // in use by a racing create: it stays, harmless
			}
			return list[0].ID, nil
		}
		if attempt > 0 {
			return "", core.Errorf(core.CodeInternal, "network %s vanished right after its creation", SandboxNetwork)
		}
		opts := map[string]string{"com.docker.network.bridge.enable_icc": "false"}
		if br, err := r.api().NetworkInspect(ctx, "bridge", network.InspectOptions{}); err == nil {
			if mtu := br.Options["com.docker.network.driver.mtu"]; mtu != "" {
				opts["com.docker.network.driver.mtu"] = mtu
			}
		}
		_, err = r.api().NetworkCreate(ctx, SandboxNetwork, network.CreateOptions{
			Driver: "bridge", Options: opts, Labels: map[string]string{core.LabelManaged: "true"},
		})
		if err != nil && !cerrdefs.IsConflict(err) {
			return "", translate(ctx, err, "create network "+SandboxNetwork)
		}
		r.log.InfoContext(ctx, "created the sandbox network", "network", SandboxNetwork)
	}
}

// StartContainer starts the container and derives its endpoint from an
// inspect after the start (lifecycle.md §13.4). Docker answers a start of a
// running container with 304, which the client reports as success. A
// container that joined its session's network owner has no guard (the
// owner's sealed the namespace they share) and is reached through the
// owner: its address, or the owner's binding of runtimePort.
func (r *Runtime) StartContainer(ctx context.Context, containerID string, runtimePort int) (string, error) {
	runtimePort = core.RuntimePortOrDefault(runtimePort)
	if err := r.api().ContainerStart(ctx, containerID, container.StartOptions{}); err != nil {
		return "", translate(ctx, err, "start container "+containerID)
	}
	// Each start gives the container a fresh network namespace: seal it
	// before anyone learns the endpoint.
	if err := r.runGuard(ctx, containerID); err != nil {
		if !errors.Is(err, errNoGuard) {
			return "", err
		}
		ep, joined, jerr := r.joinedEndpoint(ctx, containerID, runtimePort)
		if !joined {
			return "", err
		}
		return ep, jerr
	}
	info, err := r.api().ContainerInspect(ctx, containerID)
	if err != nil {
		return "", translate(ctx, err, "inspect container "+containerID)
	}
	if err := notRunning(containerID, info); err != nil {
		return "", err
	}
	return endpoint(r.opts, info, runtimePort), nil
}

// joinedEndpoint returns the endpoint of a started container that joined
// another's network namespace, and false if it did not join one.
func (r *Runtime) joinedEndpoint(ctx context.Context, containerID string, runtimePort int) (string, bool, error) {
	info, err := r.api().ContainerInspect(ctx, containerID)
	if err != nil {
		return "", true, translate(ctx, err, "inspect container "+containerID)
	}
	if info.ContainerJSONBase == nil || info.HostConfig == nil || !info.HostConfig.NetworkMode.IsContainer() {
		return "", false, nil
	}
	if err := notRunning(containerID, info); err != nil {
		return "", true, err
	}
	owner := info.HostConfig.NetworkMode.ConnectedContainer()
	oinfo, err := r.api().ContainerInspect(ctx, owner)
	if err != nil {
		return "", true, translate(ctx, err, "inspect network owner "+owner+" of "+containerID)
	}
	if err := notRunning(owner, oinfo); err != nil {
		return "", true, err
	}
	return endpoint(r.opts, oinfo, runtimePort), true, nil
}

// notRunning is internal_error, with the exit code and Docker's error, for
// a container that is not running right after its start; nil otherwise.
func notRunning(containerID string, info container.InspectResponse) error {
	if info.ContainerJSONBase != nil && info.State != nil && info.State.Running {
		return nil
	}
	var st *container.State
	if info.ContainerJSONBase != nil {
		st = info.State
	}
	msg := fmt.Sprintf("container %s is %s right after start", containerID, stateOf(st))
	if st != nil {
		msg += fmt.Sprintf(" (exit code %d", st.ExitCode)
		if st.Error != "" {
			msg += ": " + st.Error
		}
		msg += ")"
	}
	return core.Errorf(core.CodeInternal, "%s", msg)
}

// StopContainer stops the container, giving it grace (rounded up to whole
// seconds, the unit of Docker's API) before it is killed. A paused
// container is thawed first: frozen, it could not act on the stop signal
// within its grace (Docker thaws only for the final kill).
func (r *Runtime) StopContainer(ctx context.Context, containerID string, grace time.Duration) error {
	if err := r.UnpauseContainer(ctx, containerID); core.CodeOf(err) == core.CodeNotFound {
		return nil
	}
	secs := max(int(math.Ceil(grace.Seconds())), 0)
	err := r.api().ContainerStop(ctx, containerID, container.StopOptions{Timeout: &secs})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	return translate(ctx, err, "stop container "+containerID)
}

// RemoveContainer force-removes the container and its guard, and keeps its
// volumes.
func (r *Runtime) RemoveContainer(ctx context.Context, containerID string) error {
	if err := r.removeGuard(ctx, containerID); err != nil {
		return err
	}
	err := r.api().ContainerRemove(ctx, containerID, container.RemoveOptions{Force: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err):
		// "removal already in progress": another caller got there first.
		if st, serr := r.ContainerState(ctx, containerID); serr == nil &&
			(st == core.ContainerRemoving || st == core.ContainerNotFound) {
			return nil
		}
	}
	return translate(ctx, err, "remove container "+containerID)
}

// PauseContainer freezes the container's processes (docker pause: the
// cgroup freezer). Docker answers 409 both for a container that is paused
// already and for one that is not running; an inspect tells them apart.
// The guard needs nothing: the network namespace and its rules stay.
func (r *Runtime) PauseContainer(ctx context.Context, containerID string) error {
	err := r.api().ContainerPause(ctx, containerID)
	if err != nil && !cerrdefs.IsNotFound(err) {
		if st, serr := r.ContainerState(ctx, containerID); serr == nil && st == core.ContainerPaused {
			return nil
		}
	}
	return translate(ctx, err, "pause container "+containerID)
}

// UnpauseContainer thaws the container. A container that is not paused is
// not an error here; Docker refuses it with 409, or (20.10) with a 500, so
// any refusal is checked with an inspect. One found paused by then is
// being paused by a concurrent call: while the daemon finishes that pause
// its inspect already says paused but an unpause still says it is not, so
// the thaw is tried again, for up to unpauseRetry.
func (r *Runtime) UnpauseContainer(ctx context.Context, containerID string) error {
	deadline := time.Now().Add(unpauseRetry)
	delay := 5 * time.Millisecond
	for {
		err := r.api().ContainerUnpause(ctx, containerID)
		if err == nil || cerrdefs.IsNotFound(err) {
			return translate(ctx, err, "unpause container "+containerID)
		}
		st, serr := r.ContainerState(ctx, containerID)
		switch {
		case serr != nil || (st == core.ContainerPaused && time.Now().After(deadline)):
			return translate(ctx, err, "unpause container "+containerID)
		case st == core.ContainerNotFound:
			return core.NotFound("container %s not found", containerID)
		case st != core.ContainerPaused:
			return nil
		}
		select {
		case <-ctx.Done():
			return translate(ctx, ctx.Err(), "unpause container "+containerID)
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// unpauseRetry bounds how long UnpauseContainer waits for a concurrent
// pause to settle.
const unpauseRetry = 2 * time.Second

// ContainerState inspects the container (lifecycle.md §13.3).
func (r *Runtime) ContainerState(ctx context.Context, containerID string) (core.ContainerState, error) {
	info, err := r.api().ContainerInspect(ctx, containerID)
	if cerrdefs.IsNotFound(err) {
		return core.ContainerNotFound, nil
	}
	if err != nil {
		return "", translate(ctx, err, "inspect container "+containerID)
	}
	return stateOf(info.State), nil
}

// stateOf maps Docker's state: dead and anything unknown (restarting)
// count as exited.
func stateOf(s *container.State) core.ContainerState {
	if s == nil {
		return core.ContainerExited
	}
	switch s.Status {
	case container.StateRunning:
		return core.ContainerRunning
	case container.StatePaused:
		return core.ContainerPaused
	case container.StateCreated:
		return core.ContainerCreated
	case container.StateRemoving:
		return core.ContainerRemoving
	default:
		return core.ContainerExited
	}
}

// ListContainers lists matching containers, then inspects each one for the
// details the list call does not return (environment, limits). A container
// removed between the two calls is left out, and so are guards: they are
// part of their sandbox container, not containers of their own.
func (r *Runtime) ListContainers(ctx context.Context, labels map[string]string) ([]core.ContainerInfo, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	list, err := r.api().ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, translate(ctx, err, "list containers")
	}
	out := make([]core.ContainerInfo, 0, len(list))
	for _, c := range list {
		if _, guard := c.Labels[LabelGuard]; guard {
			continue
		}
		info, err := r.api().ContainerInspect(ctx, c.ID)
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, translate(ctx, err, "inspect container "+c.ID)
		}
		out = append(out, infoOf(info))
	}
	return out, nil
}

// infoOf converts an inspect response.
func infoOf(in container.InspectResponse) core.ContainerInfo {
	out := core.ContainerInfo{}
	if in.ContainerJSONBase != nil {
		out.ID = in.ID
		out.Name = strings.TrimPrefix(in.Name, "/")
		out.State = stateOf(in.State)
		out.Created, _ = time.Parse(time.RFC3339Nano, in.Created) // zero if the daemon sent none
		if hc := in.HostConfig; hc != nil {
			if hc.NetworkMode.IsContainer() {
				out.NetworkOwner = hc.NetworkMode.ConnectedContainer()
			}
			out.NanoCPUs = hc.NanoCPUs
			out.MemoryBytes = hc.Memory
			if hc.PidsLimit != nil {
				out.PidsLimit = *hc.PidsLimit
			}
		}
	}
	if in.Config != nil {
		out.Image = in.Config.Image
		out.Labels = in.Config.Labels
		out.Env = make(map[string]string, len(in.Config.Env))
		for _, kv := range in.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			out.Env[k] = v
		}
	}
	for _, m := range in.Mounts {
		if m.Type != mount.TypeVolume {
			continue
		}
		out.Mounts = append(out.Mounts, core.Mount{Volume: m.Name, Target: m.Destination, ReadOnly: !m.RW})
	}
	return out
}

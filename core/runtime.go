package core

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"time"
)

// ContainerState is what the runtime reports about a container.
type ContainerState string

// Container states (lifecycle.md §13.3).
const (
	ContainerRunning  ContainerState = "running"
	ContainerPaused   ContainerState = "paused"
	ContainerCreated  ContainerState = "created"
	ContainerExited   ContainerState = "exited"
	ContainerRemoving ContainerState = "removing"
	ContainerNotFound ContainerState = "not_found"
)

// Labels Bay puts on runtime containers and volumes (lifecycle.md §13.1,
// §13.2). All values are strings.
const (
	LabelOwner       = "bay.owner"
	LabelSandboxID   = "bay.sandbox_id"
	LabelSessionID   = "bay.session_id"
	LabelLockerID    = "bay.locker_id"
	LabelProfileID   = "bay.profile_id"
	LabelRuntimePort = "bay.runtime_port"
	LabelInstanceID  = "bay.instance_id"
	// LabelContainer is the profile's name of the container within its
	// session, LabelRuntimeType its runtime type (browser.md §1.3).
	LabelContainer   = "bay.container"
	LabelRuntimeType = "bay.runtime_type"
	// LabelManaged is "true" on every container Bay creates; on a volume it
	// says whether the locker is managed ("true") or external ("false").
	LabelManaged = "bay.managed"
)

// Environment variables Bay sets in every runtime container. They take
// precedence over profile entries of the same name.
const (
	EnvSessionID     = "BAY_SESSION_ID"
	EnvSandboxID     = "BAY_SANDBOX_ID"
	EnvWorkspacePath = "BAY_WORKSPACE_PATH"
	// EnvContainerName is the container's name within its profile.
	EnvContainerName = "BAY_CONTAINER_NAME"
	// EnvRuntimeToken carries the session's runtime token (ship.md "auth").
	// The runtime reads it at start and hides it from every process it
	// starts.
	EnvRuntimeToken = "BAY_RUNTIME_TOKEN" // #nosec G101 -- the variable's name, not a credential
)

// DefaultRuntimePort is the runtime port used when a profile gives none
// (lifecycle.md §13.1 keeps the reference's 8000 fallback).
const DefaultRuntimePort = 8000

// DefaultPidsLimit is the process-count limit used when a profile gives none
// (config.md §2.8 resources.pids).
const DefaultPidsLimit = 512

// ErrImageMissing is in the chain of the error CreateContainer returns when
// the profile's image is not present on the runtime host. Bay does not pull
// images. The error's code is internal_error: the configuration names an
// image the operator has not provided.
var ErrImageMissing = errors.New("runtime image missing")

// ErrPauseUnsupported is in the chain of the error PauseContainer returns
// when the runtime cannot freeze a container (a runtime without a freezer,
// such as a Kubernetes pod): the caller leaves the session running. The
// error's code is internal_error.
var ErrPauseUnsupported = errors.New("runtime cannot pause containers")

// ContainerSpec describes one runtime container of one session: the
// profile's container Container, or its first when Container is nil.
type ContainerSpec struct {
	SessionID  string
	SandboxID  string
	LockerID   string
	Owner      string
	InstanceID string
	Profile    *Profile
	// RuntimeToken is the session's runtime token, handed to every
	// container of the session in EnvRuntimeToken.
	RuntimeToken string
	// Container is the profile's container to create (an element of
	// Profile.ContainerList()); nil means the first.
	Container *ContainerProfile
	// NetworkOwner is the id of the session's first container, whose
	// network namespace this container joins (browser.md §1.3); empty for
	// the first container itself, which owns the namespace.
	NetworkOwner string
}

// ContainerProfile returns the profile's container the spec creates.
func (spec ContainerSpec) ContainerProfile() *ContainerProfile {
	if spec.Container != nil {
		return spec.Container
	}
	list := spec.Profile.ContainerList()
	return &list[0]
}

// JoinsNetwork reports whether the container joins its session's first
// container's network namespace instead of owning one.
func (spec ContainerSpec) JoinsNetwork() bool { return spec.NetworkOwner != "" }

// Name returns the container's name: ContainerName(session) for the
// network owner, with "-<container name>" appended for the others.
func (spec ContainerSpec) Name() string {
	if !spec.JoinsNetwork() {
		return ContainerName(spec.SessionID)
	}
	return ContainerName(spec.SessionID) + "-" + spec.ContainerProfile().Name
}

// PublishedPorts returns the ports the container publishes: the network
// owner publishes every container's port of the session (the others are
// reached through it), in profile order; a joined container none.
func (spec ContainerSpec) PublishedPorts() []int {
	if spec.JoinsNetwork() {
		return nil
	}
	var out []int
	for _, c := range spec.Profile.ContainerList() {
		if port := RuntimePortOrDefault(c.Port); !slices.Contains(out, port) {
			out = append(out, port)
		}
	}
	return out
}

// Labels returns the labels of the spec's container (lifecycle.md §13.1,
// browser.md §1.3). instance stands in for an empty InstanceID.
func (spec ContainerSpec) Labels(instance string) map[string]string {
	if spec.InstanceID != "" {
		instance = spec.InstanceID
	}
	c := spec.ContainerProfile()
	return map[string]string{
		LabelOwner:       spec.Owner,
		LabelSandboxID:   spec.SandboxID,
		LabelSessionID:   spec.SessionID,
		LabelLockerID:    spec.LockerID,
		LabelProfileID:   spec.Profile.ID,
		LabelRuntimePort: strconv.Itoa(RuntimePortOrDefault(c.Port)),
		LabelInstanceID:  instance,
		LabelManaged:     "true",
		LabelContainer:   c.Name,
		LabelRuntimeType: c.RuntimeType,
	}
}

// Env returns the container's environment: the profile's, overlaid with
// the container's own, then a browser container's settings
// (ContainerProfile.BrowserEnv), then Bay's own variables, which win over
// every entry of the same name.
func (spec ContainerSpec) Env() map[string]string {
	c := spec.ContainerProfile()
	env := make(map[string]string, len(spec.Profile.Env)+len(c.Env)+5)
	maps.Copy(env, spec.Profile.Env)
	maps.Copy(env, c.Env)
	maps.Copy(env, c.BrowserEnv())
	env[EnvSessionID] = spec.SessionID
	env[EnvSandboxID] = spec.SandboxID
	env[EnvWorkspacePath] = MountPath
	env[EnvContainerName] = c.Name
	env[EnvRuntimeToken] = spec.RuntimeToken
	return env
}

// ContainerSecurity is how a runtime confines a container beyond what it
// does for every container. The zero value is a Ship container's: its
// entrypoint starts as root with a few capabilities and drops to uid 1000
// itself (ship.md §2).
type ContainerSecurity struct {
	// User runs the entrypoint as uid:gid; "" is the image's user.
	User string
	// NoCapabilities drops every capability and adds none back.
	NoCapabilities bool
	// NoNewPrivileges is set whatever the profile's allow_sudo.
	NoNewPrivileges bool
	// ReadOnlyRootfs mounts the image read-only; Tmpfs are the writable
	// tmpfs mounts then needed (path → mount options).
	ReadOnlyRootfs bool
	Tmpfs          map[string]string
	// UserNamespaces lets the container create user namespaces (a seccomp
	// profile that allows clone, unshare and chroot), which Chromium's own
	// sandbox needs.
	UserNamespaces bool
}

// BrowserTmpfs is the writable /tmp of a browser container (browser.md §6).
const BrowserTmpfs = "rw,nosuid,nodev,size=512m"

// BrowserUser is the uid:gid a browser container runs as, Ship's user.
const BrowserUser = "1000:1000"

// Security returns how the spec's container is confined (browser.md §6):
// a browser container runs as BrowserUser with no capability, no new
// privileges and a read-only image, and may create user namespaces unless
// its Chromium sandbox is off.
func (spec ContainerSpec) Security() ContainerSecurity {
	c := spec.ContainerProfile()
	if c.RuntimeType != RuntimeTypeBrowser {
		return ContainerSecurity{}
	}
	return ContainerSecurity{
		User: BrowserUser, NoCapabilities: true, NoNewPrivileges: true,
		ReadOnlyRootfs: true, Tmpfs: map[string]string{"/tmp": BrowserTmpfs},
		UserNamespaces: c.Browser == nil || c.Browser.ChromiumSandbox != ChromiumSandboxOff,
	}
}

// VolumeSpec describes the volume behind a locker.
type VolumeSpec struct {
	LockerID string
	Owner    string
	Managed  bool
	// SizeLimitMB caps the bytes the volume holds, in MiB (Locker.SizeLimitMB);
	// a write past it fails with ENOSPC. Zero means unlimited.
	SizeLimitMB int64
}

// Mount is one volume mounted into a container.
type Mount struct {
	// Volume is the volume's name (VolumeName of a locker id).
	Volume   string
	Target   string
	ReadOnly bool
}

// ContainerInfo describes a container found by ListContainers.
type ContainerInfo struct {
	ID      string
	Name    string
	Image   string
	Labels  map[string]string
	State   ContainerState
	Created time.Time
	// Env is the container's environment, including what the image sets.
	Env    map[string]string
	Mounts []Mount
	// NanoCPUs, MemoryBytes and PidsLimit are the limits the container runs
	// with; zero means unlimited.
	NanoCPUs    int64
	MemoryBytes int64
	PidsLimit   int64
	// NetworkOwner is the id of the container whose network namespace this
	// one joined; "" for a container with its own.
	NetworkOwner string
}

// Runtime starts and stops the containers and volumes behind sessions and
// lockers. The Docker adapter implements it; no Docker type crosses it.
//
// Every method returns timeout when ctx's deadline passes and internal_error
// when the runtime cannot be reached or fails otherwise, unless it says more.
type Runtime interface {
	// CreateVolume creates the locker's volume, labelled with its owner,
	// locker id and whether it is managed, holding at most v.SizeLimitMB
	// MiB when that is not zero; an existing volume of the same name is
	// reused as it is (its limit, or its lack of one, is kept).
	CreateVolume(ctx context.Context, v VolumeSpec) error
	// DeleteVolume removes the locker's volume and whatever enforces its
	// limit. A missing volume is not an error; a volume still used by a
	// container, running or not, is a conflict.
	DeleteVolume(ctx context.Context, lockerID string) error
	// CreateContainer creates (does not start) one container of a session,
	// named spec.Name() (ContainerName(spec.SessionID) for the session's
	// first container), with the locker's volume at MountPath, and returns
	// its id. The container carries the Label* labels (owner, sandbox,
	// session, locker, profile, the container's runtime port, instance,
	// managed=true, container name, runtime type), spec.Env(), the
	// container's limits (DefaultPidsLimit when it gives none) and
	// spec.Security(). The first container owns the session's network
	// namespace: its network is sealed before its runtime can be called (it
	// reaches no other sandbox, none of the runtime host's addresses and no
	// blocked range, and otherwise what the profile's NetworkPolicy
	// allows), and it publishes, if at all on the configured host address
	// only, spec.PublishedPorts(): its own runtime port and every other
	// container's. A container with spec.NetworkOwner joins that
	// container's namespace, and with it its seal and published ports; it
	// publishes nothing itself. If the container exists already (a crash
	// between create and recording its id), it is adopted: its id is
	// returned when its labels name the same session and container and it
	// joins the same owner, otherwise it is removed and a new one created.
	// A missing image is internal_error with ErrImageMissing in the chain.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// StartContainer starts the container (starting a running one is not an
	// error), applies its network policy, and returns the endpoint
	// (http://host:port) at which its runtime listens on runtimePort. A
	// container whose policy cannot be applied is internal_error. A missing
	// container is not_found; a container that is not running right after
	// the start is internal_error. A container that joins another's network
	// is started after it (its owner not running is internal_error); its
	// endpoint has its owner's host, and the port its owner publishes for
	// runtimePort.
	StartContainer(ctx context.Context, containerID string, runtimePort int) (string, error)
	// StopContainer stops the container, killing it once grace has passed; a
	// missing or stopped container is not an error, and a paused one is
	// stopped too.
	StopContainer(ctx context.Context, containerID string, grace time.Duration) error
	// RemoveContainer force-removes the container, killing it if it runs
	// or is paused; a missing container is not an error. Volumes are kept. A session's
	// other containers are removed before its network owner.
	RemoveContainer(ctx context.Context, containerID string) error
	// PauseContainer freezes every process of the container: they keep
	// their memory and give up the CPU until UnpauseContainer. Pausing a
	// paused container is not an error. A missing container is not_found; a
	// container that is not running is conflict; a runtime that cannot
	// pause returns internal_error with ErrPauseUnsupported in the chain.
	PauseContainer(ctx context.Context, containerID string) error
	// UnpauseContainer thaws a paused container. Unpausing a container that
	// is not paused (running or stopped) is not an error; a missing one is
	// not_found.
	UnpauseContainer(ctx context.Context, containerID string) error
	// ContainerState returns the container's state (ContainerPaused for a
	// paused one); ContainerNotFound with a nil error when it does not
	// exist.
	ContainerState(ctx context.Context, containerID string) (ContainerState, error)
	// ListContainers returns every container, running or not, carrying all
	// the given labels (key and value), in no particular order.
	ListContainers(ctx context.Context, labels map[string]string) ([]ContainerInfo, error)

	// ReadVolumeFile reads the regular file at path (relative, normalized)
	// of a locker's volume without starting a runtime. Returns
	// file_not_found if it does not exist, validation_error if it is not a
	// regular file (a directory, or a symlink: links are never followed) or
	// larger than maxBytes.
	ReadVolumeFile(ctx context.Context, lockerID, path string, maxBytes int64) ([]byte, error)
	// WriteVolumeFile writes content to path (relative, normalized) of a
	// locker's volume without starting a runtime, creating parent
	// directories owned by the sandbox user. Returns validation_error if a
	// component of the path is a symlink or not a directory, and
	// payload_too_large (details.limit_bytes when known) if the locker has
	// no room: the file it would have replaced is then kept.
	WriteVolumeFile(ctx context.Context, lockerID, path string, content []byte) error
}

// RuntimeMeta is what Bay needs of every runtime type's client besides the
// capability calls themselves: readiness and the capabilities /meta
// declares (browser.md §2). core.Ship implements it for "ship"; a client
// for another type is registered in SandboxServiceOptions.RuntimeClients.
type RuntimeMeta interface {
	// Health returns nil when the runtime answers GET /health with 200. A
	// runtime that reports it failed for good (503 with status "failed")
	// gives a *RuntimeFailedError, which ends the readiness wait.
	Health(ctx context.Context, endpoint string) error
	// Capabilities returns /meta's capabilities, each key with its
	// operations; a runtime that does not declare bearer authentication is
	// refused with internal_error.
	Capabilities(ctx context.Context, ep Endpoint) (RuntimeCapabilities, error)
}

// RuntimeFailedError is a runtime's answer to GET /health that it failed
// and will not become ready (503 {"status":"failed","error":Message}).
type RuntimeFailedError struct{ Message string }

func (e *RuntimeFailedError) Error() string { return "runtime failed: " + e.Message }

package core

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"
)

// ContainerState is what the runtime reports about a container.
type ContainerState string

// Container states (lifecycle.md §13.3).
const (
	ContainerRunning  ContainerState = "running"
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

// ContainerSpec describes the runtime container of one session.
type ContainerSpec struct {
	SessionID  string
	SandboxID  string
	LockerID   string
	Owner      string
	InstanceID string
	Profile    *Profile
	// RuntimeToken is the session's runtime token, handed to the runtime
	// in EnvRuntimeToken.
	RuntimeToken string
}

// Labels returns the labels of the spec's container (lifecycle.md §13.1).
// instance stands in for an empty InstanceID.
func (spec ContainerSpec) Labels(instance string) map[string]string {
	if spec.InstanceID != "" {
		instance = spec.InstanceID
	}
	return map[string]string{
		LabelOwner:       spec.Owner,
		LabelSandboxID:   spec.SandboxID,
		LabelSessionID:   spec.SessionID,
		LabelLockerID:    spec.LockerID,
		LabelProfileID:   spec.Profile.ID,
		LabelRuntimePort: strconv.Itoa(RuntimePortOrDefault(spec.Profile.RuntimePort)),
		LabelInstanceID:  instance,
		LabelManaged:     "true",
	}
}

// Env returns the container's environment: the profile's, overlaid with
// Bay's own variables, which win over profile entries of the same name.
func (spec ContainerSpec) Env() map[string]string {
	env := make(map[string]string, len(spec.Profile.Env)+4)
	maps.Copy(env, spec.Profile.Env)
	env[EnvSessionID] = spec.SessionID
	env[EnvSandboxID] = spec.SandboxID
	env[EnvWorkspacePath] = MountPath
	env[EnvRuntimeToken] = spec.RuntimeToken
	return env
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
	// CreateContainer creates (does not start) the session's container, named
	// ContainerName(spec.SessionID), with the locker's volume at MountPath,
	// and returns its id. The container carries the Label* labels (owner,
	// sandbox, session, locker, profile, runtime port, instance, managed=true),
	// the profile's environment overlaid with EnvSessionID, EnvSandboxID,
	// EnvWorkspacePath and EnvRuntimeToken, and the profile's limits
	// (DefaultPidsLimit when the profile gives none). The container's
	// network is sealed before its runtime can be called: it reaches no
	// other sandbox, none of the runtime host's addresses and no blocked
	// range, and otherwise what the profile's NetworkPolicy allows; the
	// runtime port is published, if at all, on the configured host address
	// only. If a container for the session exists already (a
	// crash between create and recording its id), it is adopted: its id is
	// returned when its labels name the same session, otherwise it is removed
	// and a new one created. A missing image is internal_error with
	// ErrImageMissing in the chain.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// StartContainer starts the container (starting a running one is not an
	// error), applies its network policy, and returns the endpoint
	// (http://host:port) at which its runtime listens on runtimePort. A
	// container whose policy cannot be applied is internal_error. A missing container is not_found; a container
	// that is not running right after the start is internal_error.
	StartContainer(ctx context.Context, containerID string, runtimePort int) (string, error)
	// StopContainer stops the container, killing it once grace has passed; a
	// missing or stopped container is not an error.
	StopContainer(ctx context.Context, containerID string, grace time.Duration) error
	// RemoveContainer force-removes the container, killing it if it runs; a
	// missing container is not an error. Volumes are kept.
	RemoveContainer(ctx context.Context, containerID string) error
	// ContainerState returns the container's state; ContainerNotFound with a
	// nil error when it does not exist.
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

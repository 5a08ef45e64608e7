package core

import (
	"context"
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

// ContainerSpec describes the runtime container of one session.
type ContainerSpec struct {
	SessionID  string
	SandboxID  string
	LockerID   string
	Owner      string
	InstanceID string
	Profile    *Profile
}

// VolumeSpec describes the volume behind a locker.
type VolumeSpec struct {
	LockerID string
	Owner    string
	Managed  bool
}

// ContainerInfo describes a container found by ListContainers.
type ContainerInfo struct {
	ID     string
	Name   string
	Labels map[string]string
	State  ContainerState
}

// Runtime starts and stops the containers and volumes behind sessions and
// lockers. The Docker adapter implements it; no Docker type crosses it.
type Runtime interface {
	// CreateVolume creates the locker's volume; an existing volume of the same
	// name is reused.
	CreateVolume(ctx context.Context, v VolumeSpec) error
	// DeleteVolume removes the locker's volume. A missing volume is not an
	// error; a volume still in use is a conflict.
	DeleteVolume(ctx context.Context, lockerID string) error
	// CreateContainer creates (does not start) the session's container and
	// returns its id. If a container with the session's name exists already
	// (a crash between create and recording its id), it is adopted.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// StartContainer starts the container and returns the endpoint
	// (http://host:port) at which its runtime answers.
	StartContainer(ctx context.Context, containerID string, runtimePort int) (string, error)
	// StopContainer stops the container within grace; a missing container is
	// not an error.
	StopContainer(ctx context.Context, containerID string, grace time.Duration) error
	// RemoveContainer force-removes the container; a missing container is not
	// an error.
	RemoveContainer(ctx context.Context, containerID string) error
	// ContainerState returns the container's state; ContainerNotFound with a
	// nil error when it does not exist.
	ContainerState(ctx context.Context, containerID string) (ContainerState, error)
	// ListContainers returns every container, running or not, carrying all
	// the given labels.
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
	// component of the path is a symlink or not a directory.
	WriteVolumeFile(ctx context.Context, lockerID, path string, content []byte) error
}

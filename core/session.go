package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"
)

// SessionState is a desired or observed state of a session.
type SessionState string

// Session states (lifecycle.md §1.2).
const (
	SessionPending  SessionState = "pending"
	SessionStarting SessionState = "starting"
	SessionRunning  SessionState = "running"
	// SessionPaused is a running session whose containers are frozen
	// (idle_pause): still active, it shows as idle and the next call thaws
	// it with the runtime's memory intact.
	SessionPaused   SessionState = "paused"
	SessionStopping SessionState = "stopping"
	SessionStopped  SessionState = "stopped"
	SessionFailed   SessionState = "failed"
)

// SessionStates lists every state a session can be in.
var SessionStates = []SessionState{
	SessionPending, SessionStarting, SessionRunning, SessionPaused, SessionStopping, SessionStopped, SessionFailed,
}

// Session is one start of a sandbox's runtime containers, running or not.
// Sessions are internal; the API never shows them. A session is active while its
// DesiredState is SessionRunning, and the database allows at most one active
// session per sandbox.
type Session struct {
	ID          string
	SandboxID   string
	RuntimeType string
	ProfileID   string
	// ContainerID and Endpoint are the network owner's (the first of
	// Containers), kept beside the list for one release (browser.md §1.6).
	ContainerID    string
	Endpoint       string
	DesiredState   SessionState
	ObservedState  SessionState
	LastObservedAt *time.Time
	// ClaimedBy is the instance id of the Bay process that claimed the start
	// of this session's container, and ClaimedAt when; both are empty once
	// the start is settled.
	ClaimedBy    string
	ClaimedAt    *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastActiveAt time.Time
	// RuntimeToken is the secret the session's runtime was started with and
	// wants on every call (ship.md "auth"): 32 random bytes, hex. Made once
	// per session, so a container adopted after a crash still holds it.
	RuntimeToken string
	// Containers are the session's containers in profile order, the
	// network owner first, as planned by the start that made them. A
	// session of a Bay that predates the list has none: its one container
	// is ContainerID.
	Containers []SessionContainer
}

// SessionContainer is one container of a session, as started: its
// capabilities route calls to it (browser.md §2).
type SessionContainer struct {
	Name         string
	RuntimeType  string
	Port         int
	Capabilities []string
	// ContainerID is empty until the runtime created it; Endpoint until
	// the session runs.
	ContainerID string
	Endpoint    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Target returns where the session's Ship listens and the token it wants:
// the first Ship container's endpoint, or the network owner's.
func (s *Session) Target() Endpoint {
	for _, c := range s.Containers {
		if c.RuntimeType == RuntimeTypeShip {
			return Endpoint{URL: c.Endpoint, Token: s.RuntimeToken}
		}
	}
	return Endpoint{URL: s.Endpoint, Token: s.RuntimeToken}
}

// ContainerIDs returns the ids of the session's containers that exist, the
// network owner first.
func (s *Session) ContainerIDs() []string {
	var out []string
	add := func(id string) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	add(s.ContainerID)
	for _, c := range s.Containers {
		add(c.ContainerID)
	}
	return out
}

// Endpoints returns the endpoints of the session's containers, the network
// owner first.
func (s *Session) Endpoints() []string {
	var out []string
	add := func(ep string) {
		if ep != "" && !slices.Contains(out, ep) {
			out = append(out, ep)
		}
	}
	add(s.Endpoint)
	for _, c := range s.Containers {
		add(c.Endpoint)
	}
	return out
}

// NewRuntimeToken returns a fresh runtime token: 32 bytes from the
// operating system's random source, hex-encoded.
func NewRuntimeToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails on Linux (crypto/rand docs)
	return hex.EncodeToString(b[:])
}

// Active reports whether the session counts against the one-active-session
// rule.
func (s *Session) Active() bool { return s.DesiredState == SessionRunning }

// SessionStore persists sessions.
type SessionStore interface {
	// Insert adds a session with its Containers. Returns conflict if the id is taken or if s is
	// active and the sandbox already has an active session; not_found if the
	// sandbox does not exist.
	Insert(ctx context.Context, s *Session) error
	// Get returns the session with the given id. Returns not_found if there is none.
	Get(ctx context.Context, id string) (*Session, error)
	// Save writes every mutable field of s, its Containers included (the
	// session's container rows become exactly that list, in its order), in
	// one transaction. Returns not_found if the row does not exist,
	// conflict if it would make a second active session.
	Save(ctx context.Context, s *Session) error
	// Delete removes the session row and its container rows. Returns
	// not_found if there is none.
	Delete(ctx context.Context, id string) error
	// GetByContainer returns the session one of whose containers has the
	// runtime id containerID. Returns not_found if there is none.
	GetByContainer(ctx context.Context, containerID string) (*Session, error)
	// ListBySandbox returns the sandbox's sessions ordered by id.
	ListBySandbox(ctx context.Context, sandboxID string) ([]*Session, error)
	// ListByObservedState returns every session in the given observed state,
	// ordered by id.
	ListByObservedState(ctx context.Context, state SessionState) ([]*Session, error)
	// CountActiveByOwner returns how many active sessions the sandboxes of
	// owner have.
	CountActiveByOwner(ctx context.Context, owner string) (int64, error)
}

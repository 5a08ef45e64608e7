package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// SessionState is a desired or observed state of a session.
type SessionState string

// Session states (lifecycle.md §1.2).
const (
	SessionPending  SessionState = "pending"
	SessionStarting SessionState = "starting"
	SessionRunning  SessionState = "running"
	SessionStopping SessionState = "stopping"
	SessionStopped  SessionState = "stopped"
	SessionFailed   SessionState = "failed"
)

// SessionStates lists every state a session can be in.
var SessionStates = []SessionState{
	SessionPending, SessionStarting, SessionRunning, SessionStopping, SessionStopped, SessionFailed,
}

// Session is one runtime container of a sandbox, running or not. Sessions
// are internal; the API never shows them. A session is active while its
// DesiredState is SessionRunning, and the database allows at most one active
// session per sandbox.
type Session struct {
	ID             string
	SandboxID      string
	RuntimeType    string
	ProfileID      string
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
}

// Target returns where the session's runtime listens and the token it
// wants.
func (s *Session) Target() Endpoint { return Endpoint{URL: s.Endpoint, Token: s.RuntimeToken} }

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
	// Insert adds a session. Returns conflict if the id is taken or if s is
	// active and the sandbox already has an active session; not_found if the
	// sandbox does not exist.
	Insert(ctx context.Context, s *Session) error
	// Get returns the session with the given id. Returns not_found if there is none.
	Get(ctx context.Context, id string) (*Session, error)
	// Save writes every mutable field of s. Returns not_found if the row does
	// not exist, conflict if it would make a second active session.
	Save(ctx context.Context, s *Session) error
	// Delete removes the session row. Returns not_found if there is none.
	Delete(ctx context.Context, id string) error
	// ListBySandbox returns the sandbox's sessions ordered by id.
	ListBySandbox(ctx context.Context, sandboxID string) ([]*Session, error)
	// ListByObservedState returns every session in the given observed state,
	// ordered by id.
	ListByObservedState(ctx context.Context, state SessionState) ([]*Session, error)
	// CountActiveByOwner returns how many active sessions the sandboxes of
	// owner have.
	CountActiveByOwner(ctx context.Context, owner string) (int64, error)
}

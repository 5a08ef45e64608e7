package core

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Clock tells the time. Every "now" in Bay comes from a Clock, never from SQL.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC at microsecond precision.
type SystemClock struct{}

// Now returns the current time in UTC truncated to microseconds, the
// precision every store keeps and the API prints.
func (SystemClock) Now() time.Time { return Micro(time.Now()) }

// Micro converts t to UTC and truncates it to microseconds.
func Micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// IDs makes identifiers. Every id in Bay comes from an IDs, never from SQL.
type IDs interface {
	// New returns prefix followed by 12 lowercase hex characters.
	New(prefix string) string
}

// Prefixes of the identifiers Bay makes.
const (
	SandboxIDPrefix = "sandbox-"
	LockerIDPrefix  = "locker-"
	SessionIDPrefix = "sess-"
)

// RandomIDs makes identifiers from crypto/rand.
type RandomIDs struct{}

// New returns prefix followed by 12 random lowercase hex characters.
func (RandomIDs) New(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return prefix + hex.EncodeToString(b[:])
}

package fake

import (
	"sync"
	"time"

	"github.com/bayhq/bay/core"
)

// Clock is a core.Clock that only moves when told. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

var _ core.Clock = (*Clock)(nil)

// NewClock returns a Clock standing at start, in UTC at microsecond
// precision like core.SystemClock.
func NewClock(start time.Time) *Clock { return &Clock{now: core.Micro(start)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t, forwards or backwards.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = core.Micro(t)
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = core.Micro(c.now.Add(d))
	return c.now
}

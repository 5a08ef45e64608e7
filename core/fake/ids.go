package fake

import (
	"fmt"
	"sync"

	"github.com/bayhq/bay/core"
)

// IDs is a core.IDs that numbers ids per prefix, starting at 1:
// sandbox-000000000001, sandbox-000000000002, locker-000000000001. The zero
// value is ready to use and safe for concurrent use.
type IDs struct {
	mu   sync.Mutex
	next map[string]uint64
}

var _ core.IDs = (*IDs)(nil)

// New returns prefix followed by the prefix's next number as 12 lowercase
// hex digits.
func (g *IDs) New(prefix string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next == nil {
		g.next = make(map[string]uint64)
	}
	g.next[prefix]++
	return fmt.Sprintf("%s%012x", prefix, g.next[prefix])
}

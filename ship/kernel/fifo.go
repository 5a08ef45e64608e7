package kernel

import (
	"context"
	"sync"
)

// fifoLock is a mutex that hands ownership to waiters in arrival order.
// sync.Mutex makes no ordering promise, and execution requests must run in
// the order they came in.
type fifoLock struct {
	mu      sync.Mutex
	locked  bool
	waiters []chan struct{}
}

// lock blocks until the caller owns the lock or ctx is done.
func (f *fifoLock) lock(ctx context.Context) error {
	f.mu.Lock()
	if !f.locked {
		f.locked = true
		f.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	f.waiters = append(f.waiters, ch)
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		for i, w := range f.waiters {
			if w == ch {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				f.mu.Unlock()
				return ctx.Err()
			}
		}
		f.mu.Unlock()
		// Ownership was handed over while ctx finished; pass it on.
		f.unlock()
		return ctx.Err()
	}
}

// unlock hands the lock to the oldest waiter, or releases it.
func (f *fifoLock) unlock() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) > 0 {
		ch := f.waiters[0]
		f.waiters = f.waiters[1:]
		close(ch)
		return
	}
	f.locked = false
}

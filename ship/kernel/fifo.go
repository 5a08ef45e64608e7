package kernel

import (
	"context"
	"errors"
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

// errAborted is lockOr's error when abort was closed first.
var errAborted = errors.New("lock wait aborted")

// lock blocks until the caller owns the lock or ctx is done.
func (f *fifoLock) lock(ctx context.Context) error { return f.lockOr(ctx, nil) }

// lockOr is lock that also gives up, with errAborted, when abort is
// closed while the caller waits. A nil abort never fires.
func (f *fifoLock) lockOr(ctx context.Context, abort <-chan struct{}) error {
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
		return f.leave(ch, ctx.Err())
	case <-abort:
		return f.leave(ch, errAborted)
	}
}

// leave removes waiter ch from the queue and returns err. If ownership was
// handed to ch meanwhile, it is passed on.
func (f *fifoLock) leave(ch chan struct{}, err error) error {
	f.mu.Lock()
	for i, w := range f.waiters {
		if w == ch {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			f.mu.Unlock()
			return err
		}
	}
	f.mu.Unlock()
	f.unlock()
	return err
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

package kernel

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFIFOLock_Order(t *testing.T) {
	t.Parallel()
	var l fifoLock
	require.NoError(t, l.lock(context.Background()))
	order := make(chan int, 5)
	queued := make(chan struct{})
	for i := range 5 {
		go func() {
			queued <- struct{}{}
			require.NoError(t, l.lock(context.Background()))
			order <- i
			l.unlock()
		}()
		<-queued
		// Wait until goroutine i is queued before starting the next one.
		require.Eventually(t, func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return len(l.waiters) == i+1
		}, 5*time.Second, time.Millisecond)
	}
	l.unlock()
	for i := range 5 {
		require.Equal(t, i, <-order)
	}
}

func TestFIFOLock_CancelWhileWaiting(t *testing.T) {
	t.Parallel()
	var l fifoLock
	require.NoError(t, l.lock(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, l.lock(ctx), context.Canceled)
	l.unlock()
	require.NoError(t, l.lock(context.Background()), "a cancelled waiter must not keep the lock")
}

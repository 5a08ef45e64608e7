package docker

import (
	"context"
	"errors"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/bayhq/bay/core"
)

// translate turns an error of the Docker client into a *core.Error whose
// message is what, keeping err as the cause. The client classifies daemon
// replies by status (404 not found, 409 conflict) with containerd's errdefs,
// so the checks go through errors.Is, never through the message text.
func translate(ctx context.Context, err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return core.Wrap(err, core.CodeTimeout, what)
	case cerrdefs.IsNotFound(err):
		return core.Wrap(err, core.CodeNotFound, what)
	case cerrdefs.IsConflict(err):
		return core.Wrap(err, core.CodeConflict, what)
	case client.IsErrConnectionFailed(err):
		return core.Wrap(err, core.CodeInternal, what+": docker daemon unreachable")
	default:
		return core.Wrap(err, core.CodeInternal, what)
	}
}

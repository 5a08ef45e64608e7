package kubernetes

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/bayhq/bay/core"
)

// translate turns an error of the API into a *core.Error whose message is
// what, keeping err as the cause. The API server classifies its replies
// by status and reason (404 NotFound, 409 AlreadyExists or Conflict), which
// apimachinery's errors package reads: never the message text.
func translate(ctx context.Context, err error, what string) error {
	var ce *core.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err // translated already (the clients' setup)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return core.Wrap(err, core.CodeTimeout, what)
	case apierrors.IsNotFound(err):
		return core.Wrap(err, core.CodeNotFound, what)
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
		return core.Wrap(err, core.CodeConflict, what)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return core.Wrap(err, core.CodeInternal, what+": Bay's Kubernetes account lacks the permission")
	default:
		return core.Wrap(err, core.CodeInternal, what)
	}
}

// Package docker implements core.Runtime on the Docker Engine API through
// github.com/docker/docker/client. It follows the Docker conventions of
// lifecycle.md §13: one container named bay-session-<session id> per
// session, labelled with the bay.* labels, with the locker's volume
// bay-<locker id> mounted at /workspace.
//
// It imports core and the Docker client. No Docker type escapes it: every
// Docker error is translated into a *core.Error at this boundary.
package docker

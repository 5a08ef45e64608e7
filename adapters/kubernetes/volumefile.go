package kubernetes

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/bayhq/bay/core"
)

// A locker's files are read and written without a session through a
// helper pod: it mounts the locker's claim at /workspace, sleeps, and
// runs one shell script through the API's exec, which carries the file's
// bytes on stdin or stdout; then it is deleted. Docker's helper is a
// container that never starts (its archive API works on created
// containers); a pod has to run, so each direct read or write costs a pod
// start and removal: about 1–2 s on an idle node, against ~0.1 s on
// Docker. Bay's account needs pods/exec for it.

// helperPrefix names the helper pods. It is not bay-session-, so
// orphan-container GC never considers them.
const helperPrefix = "bay-locker-io-"

// LabelHelper marks the helper pods.
const LabelHelper = "bay.locker_io"

// helperLife bounds a helper pod's life should Bay die before deleting it.
const helperLife = 10 * time.Minute

// fileScript runs in the helper pod as `sh -c fileScript sh OP PATH MAX`
// with the locker at /workspace. It refuses a path with a symbolic link
// or a non-directory among its components and reports through its exit
// status (the statuses below). read prints the file; write takes it on
// stdin into a temporary file beside the target, owned by the sandbox
// user, then renames it over the target, so that a write that runs out
// of room leaves the old file whole. Missing parents are created owned by
// the sandbox user.
const fileScript = `
op=$1 rel=$2 max=$3
cd /workspace || exit 70
set -f
IFS=/
set -- $rel
IFS=' 	
'
p= i=0 total=$#
for c do
	i=$((i + 1))
	p=${p:+$p/}$c
	if [ -L "$p" ]; then printf '%s' "$p" >&2; exit 11; fi
	if [ ! -e "$p" ]; then
		[ "$op" = read ] && exit 10
		break
	fi
	if [ "$i" -lt "$total" ] && [ ! -d "$p" ]; then printf '%s' "$p" >&2; exit 12; fi
done
case $op in
read)
	[ -f "$rel" ] || exit 13
	size=$(stat -c %s -- "$rel") || exit 71
	[ "$size" -le "$max" ] || exit 14
	exec cat -- "$rel"
	;;
write)
	if [ -e "$rel" ] && [ ! -f "$rel" ]; then exit 13; fi
	dir=$(dirname -- "$rel")
	if [ ! -d "$dir" ]; then
		IFS=/
		set -- $dir
		IFS=' 	
'
		p=
		for c do
			p=${p:+$p/}$c
			if [ ! -e "$p" ]; then mkdir -- "$p" && chown 1000:1000 -- "$p" || exit 71; fi
		done
	fi
	tmp=$dir/.bay-write-$$
	if ! cat >"$tmp" 2>/tmp/bay-write-err; then
		rm -f -- "$tmp"
		if grep -q 'No space left' /tmp/bay-write-err; then exit 15; fi
		cat /tmp/bay-write-err >&2
		exit 71
	fi
	chown 1000:1000 -- "$tmp" && chmod 0644 -- "$tmp" && mv -f -- "$tmp" "$rel" || { rm -f -- "$tmp"; exit 71; }
	;;
esac
`

// Exit statuses of fileScript.
const (
	exitMissing  = 10
	exitSymlink  = 11
	exitNotDir   = 12
	exitNotFile  = 13
	exitTooLarge = 14
	exitNoSpace  = 15
)

// withHelper starts a helper pod that mounts the locker, runs fn with its
// name, and deletes it.
func (r *Runtime) withHelper(ctx context.Context, lockerID string, fn func(name string) error) error {
	if r.opts.HelperImage == "" {
		return core.Errorf(core.CodeInternal, "no image configured for locker file access")
	}
	c, err := r.api()
	if err != nil {
		return err
	}
	lbls, notes := objectLabels(map[string]string{LabelHelper: "true", core.LabelLockerID: lockerID})
	no := false
	root, zero := int64(0), int64(0)
	life := int64(helperLife / time.Second)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: helperPrefix + newToken(), Namespace: r.opts.Namespace,
			Labels: r.labels(lbls), Annotations: notes,
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			DNSPolicy:                     corev1.DNSDefault,
			NodeSelector:                  r.opts.NodeSelector,
			ActiveDeadlineSeconds:         &life,
			TerminationGracePeriodSeconds: &zero,
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: []corev1.Volume{{Name: workspaceVolume, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: core.VolumeName(lockerID)},
			}}},
			Containers: []corev1.Container{{
				Name:            containerName,
				Image:           r.opts.HelperImage,
				ImagePullPolicy: corev1.PullPolicy(r.opts.ImagePullPolicy),
				Command:         []string{"sleep", strconv.FormatInt(life, 10)},
				VolumeMounts:    []corev1.VolumeMount{{Name: workspaceVolume, MountPath: core.MountPath}},
				// Root with only what writing files for another user takes.
				SecurityContext: &corev1.SecurityContext{
					RunAsUser: &root, RunAsNonRoot: &no, AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &no,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"},
						Add: []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER"}},
				},
			}},
		},
	}
	var created corev1.Pod
	if err := c.core.Post().Namespace(r.opts.Namespace).Resource("pods").Body(pod).Do(ctx).Into(&created); err != nil {
		return translate(ctx, err, "create locker helper pod")
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := r.deletePod(dctx, &created, 0); err != nil {
			r.log.WarnContext(ctx, "delete locker helper pod", "pod", created.Name, "err", err)
		}
	}()
	if _, err := r.waitRunning(ctx, &created); err != nil {
		return err
	}
	return fn(created.Name)
}

// runScript runs fileScript in the helper pod and returns its exit status
// (0 when it succeeded) and what it printed on stderr.
func (r *Runtime) runScript(ctx context.Context, pod string, args []string, stdin io.Reader, stdout io.Writer) (int, string, error) {
	c, err := r.api()
	if err != nil {
		return 0, "", err
	}
	req := c.core.Post().Namespace(r.opts.Namespace).Resource("pods").Name(pod).SubResource("exec").
		Param("container", containerName).Param("stdout", "true").Param("stderr", "true")
	if stdin != nil {
		req = req.Param("stdin", "true")
	}
	for _, a := range append([]string{"sh", "-c", fileScript, "sh"}, args...) {
		req = req.Param("command", a)
	}
	u := req.URL()
	// WebSockets first, SPDY for API servers that lack them, as kubectl.
	ws, err := remotecommand.NewWebSocketExecutor(c.cfg, "GET", u.String())
	if err != nil {
		return 0, "", core.Wrap(err, core.CodeInternal, "exec in pod "+pod)
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.cfg, "POST", u)
	if err != nil {
		return 0, "", core.Wrap(err, core.CodeInternal, "exec in pod "+pod)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return 0, "", core.Wrap(err, core.CodeInternal, "exec in pod "+pod)
	}
	var stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: &stderr})
	var exit utilexec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitStatus(), strings.TrimSpace(stderr.String()), nil
	}
	if err != nil {
		return 0, "", translate(ctx, err, "exec in pod "+pod+": "+strings.TrimSpace(stderr.String()))
	}
	return 0, strings.TrimSpace(stderr.String()), nil
}

// scriptError turns a failed fileScript into the port's errors.
func scriptError(status int, stderr, rel string) error {
	switch status {
	case exitMissing:
		return core.Errorf(core.CodeFileNotFound, "File not found: %s", rel).WithDetails(map[string]any{"path": rel})
	case exitSymlink:
		return core.Invalid("Path contains a symbolic link: %s", stderr)
	case exitNotDir:
		return core.Invalid("Path component is not a directory: %s", stderr)
	case exitNotFile:
		return core.Invalid("Path is not a file: %s", rel)
	}
	return core.Errorf(core.CodeInternal, "locker file access failed (exit %d): %s", status, stderr)
}

// ReadVolumeFile implements core.Runtime.
func (r *Runtime) ReadVolumeFile(ctx context.Context, lockerID, rel string, maxBytes int64) ([]byte, error) {
	var out []byte
	err := r.withHelper(ctx, lockerID, func(pod string) error {
		var buf limitedBuffer
		buf.max = maxBytes
		status, stderr, err := r.runScript(ctx, pod, []string{"read", rel, strconv.FormatInt(maxBytes, 10)}, nil, &buf)
		switch {
		case err != nil:
			return err
		case status == exitTooLarge || buf.over:
			return core.Invalid("File is larger than %d bytes: %s", maxBytes, rel).WithDetails(map[string]any{"limit_bytes": maxBytes})
		case status != 0:
			return scriptError(status, stderr, rel)
		}
		out = buf.b.Bytes()
		return nil
	})
	return out, err
}

// limitedBuffer keeps at most max bytes and notes whether more came.
type limitedBuffer struct {
	b    bytes.Buffer
	max  int64
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := l.max - int64(l.b.Len()); int64(n) > room {
		l.over = true
		p = p[:max(room, 0)]
	}
	l.b.Write(p)
	return n, nil
}

// WriteVolumeFile implements core.Runtime.
func (r *Runtime) WriteVolumeFile(ctx context.Context, lockerID, rel string, content []byte) error {
	return r.withHelper(ctx, lockerID, func(pod string) error {
		status, stderr, err := r.runScript(ctx, pod, []string{"write", rel, "0"}, bytes.NewReader(content), io.Discard)
		switch {
		case err != nil:
			return err
		case status == exitNoSpace:
			return core.Errorf(core.CodePayloadTooLarge, "Locker %s has no room for %d bytes at %s", lockerID, len(content), rel).
				WithDetails(r.claimLimit(ctx, lockerID))
		case status != 0:
			return scriptError(status, stderr, rel)
		}
		return nil
	})
}

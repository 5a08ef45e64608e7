package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bayhq/bay/core"
)

// CreateContainer creates the session's pod, held back by its start
// gate, after the NetworkPolicy that seals it (lifecycle.md §13.1,
// kubernetes.md §1). A pod of the same name is adopted when its labels
// name the same session, sandbox, locker and container (a crash between
// create and recording the id, or a concurrent create), and replaced
// otherwise.
func (r *Runtime) CreateContainer(ctx context.Context, spec core.ContainerSpec) (string, error) {
	if spec.Profile == nil || spec.ContainerProfile().Image == "" {
		return "", core.Invalid("container spec of session %s has no profile image", spec.SessionID)
	}
	if spec.SessionID == "" || spec.LockerID == "" {
		return "", core.Invalid("container spec needs a session id and a locker id")
	}
	if n := len(spec.Profile.ContainerList()); n > 1 || spec.JoinsNetwork() {
		// Pods cannot join another pod's network namespace; one pod of
		// several containers would fit, but the port creates, starts and
		// removes them one by one.
		return "", core.Invalid("profile %q has %d containers: the Kubernetes runtime runs single-container profiles only", spec.Profile.ID, n)
	}
	c, err := r.api()
	if err != nil {
		return "", err
	}
	image := spec.ContainerProfile().Image
	if r.opts.ImagePullPolicy == PullNever && r.nodeFacts(ctx, false).imageMissing(image) &&
		r.nodeFacts(ctx, true).imageMissing(image) { // the cache may predate the image
		return "", missingImageError(image, "image pull policy Never", nil)
	}
	ports := []int{core.RuntimePortOrDefault(spec.ContainerProfile().Port)}
	pol, aliases := r.policyFor(ctx, spec.Profile, ports)
	want := r.sessionPod(spec, aliases)

	// A conflicting pod that cannot be adopted is removed and the create
	// retried; a few rounds cover a concurrent create replacing it too.
	for range 4 {
		if err := r.putPolicy(ctx, c, want, pol); err != nil {
			return "", err
		}
		var got corev1.Pod
		err := c.core.Post().Namespace(r.opts.Namespace).Resource("pods").Body(want).Do(ctx).Into(&got)
		switch {
		case err == nil:
			return containerID(&got), nil
		case apierrors.IsAlreadyExists(err):
			id, err := r.adopt(ctx, want.Name, spec)
			if err != nil || id != "" {
				return id, err
			}
		case apierrors.IsNotFound(err):
			return "", core.Wrap(err, core.CodeInternal, fmt.Sprintf("create pod %s: namespace %s not found", want.Name, r.opts.Namespace))
		default:
			return "", translate(ctx, err, "create pod "+want.Name)
		}
	}
	return "", core.Conflict("pod %s: name still taken after removing the old pod", want.Name)
}

// adopt looks at the pod holding name. It returns the pod's id if it
// belongs to the same session, sandbox, locker and container and is not
// being deleted. Otherwise it removes the pod and returns "" so that the
// caller creates it anew.
func (r *Runtime) adopt(ctx context.Context, name string, spec core.ContainerSpec) (string, error) {
	pod, err := r.pod(ctx, name)
	if err != nil || pod == nil {
		return "", err // removed meanwhile: create again
	}
	lbls := originalLabels(pod.Labels, pod.Annotations)
	same := true
	for _, k := range []string{core.LabelSessionID, core.LabelSandboxID, core.LabelLockerID, core.LabelContainer} {
		same = same && lbls[k] == spec.Labels("")[k]
	}
	if same && pod.DeletionTimestamp == nil && pod.Annotations[annotToken] != "" {
		return containerID(pod), nil
	}
	if err := r.deletePod(ctx, pod, 0); err != nil {
		return "", err
	}
	return "", nil
}

// putPolicy creates the NetworkPolicy of the pod, or replaces an
// existing one's rules (an adopted or replaced pod's).
func (r *Runtime) putPolicy(ctx context.Context, c *clients, pod *corev1.Pod, in policyInput) error {
	meta := metav1.ObjectMeta{Name: pod.Name, Namespace: r.opts.Namespace, Labels: pod.Labels}
	pol := networkPolicy(in, meta, pod.Labels[core.LabelSessionID])
	err := c.net.Post().Namespace(r.opts.Namespace).Resource("networkpolicies").Body(pol).Do(ctx).Error()
	if !apierrors.IsAlreadyExists(err) {
		return translate(ctx, err, "create network policy "+pod.Name)
	}
	var cur networkingv1.NetworkPolicy
	if err := c.net.Get().Namespace(r.opts.Namespace).Resource("networkpolicies").Name(pod.Name).Do(ctx).Into(&cur); err != nil {
		return translate(ctx, err, "read network policy "+pod.Name)
	}
	cur.Labels, cur.Spec = pol.Labels, pol.Spec
	err = c.net.Put().Namespace(r.opts.Namespace).Resource("networkpolicies").Name(pod.Name).Body(&cur).Do(ctx).Error()
	if apierrors.IsConflict(err) {
		return nil // a concurrent create of the same session wrote it a moment ago
	}
	return translate(ctx, err, "update network policy "+pod.Name)
}

// pod returns the pod named name, or nil when there is none.
func (r *Runtime) pod(ctx context.Context, name string) (*corev1.Pod, error) {
	c, err := r.api()
	if err != nil {
		return nil, err
	}
	var pod corev1.Pod
	err = c.core.Get().Namespace(r.opts.Namespace).Resource("pods").Name(name).Do(ctx).Into(&pod)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(ctx, err, "read pod "+name)
	}
	return &pod, nil
}

// podOf returns the pod of a container id, or nil when there is none (or
// the pod under that name is another creation).
func (r *Runtime) podOf(ctx context.Context, id string) (*corev1.Pod, error) {
	name, token, ok := parseID(id)
	if !ok {
		return nil, nil
	}
	pod, err := r.pod(ctx, name)
	if err != nil || pod == nil || pod.Annotations[annotToken] != token {
		return nil, err
	}
	return pod, nil
}

// deletePod deletes the pod with the given grace and waits until it is
// gone: its name is free again and its claim no longer used. An unbound
// (gated) pod goes at once; a running one once the kubelet has stopped
// it, within grace and a margin.
func (r *Runtime) deletePod(ctx context.Context, pod *corev1.Pod, grace time.Duration) error {
	c, err := r.api()
	if err != nil {
		return err
	}
	secs := int64(math.Ceil(grace.Seconds()))
	uid := pod.UID
	opts := &metav1.DeleteOptions{GracePeriodSeconds: &secs, Preconditions: &metav1.Preconditions{UID: &uid}}
	err = c.core.Delete().Namespace(r.opts.Namespace).Resource("pods").Name(pod.Name).Body(opts).Do(ctx).Error()
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return nil // the UID differs: that pod is gone, another has the name
	case err != nil:
		return translate(ctx, err, "delete pod "+pod.Name)
	}
	return r.waitGone(ctx, pod.Name, uid, grace+podGoneMargin)
}

// podGoneMargin is what a deleted pod may take beyond its grace: the
// kubelet notices the deletion, kills the containers, tears the network
// down and reports.
const podGoneMargin = 30 * time.Second

// waitGone polls until the pod named name with the given uid is gone.
func (r *Runtime) waitGone(ctx context.Context, name string, uid types.UID, within time.Duration) error {
	deadline := time.Now().Add(within)
	wait := 20 * time.Millisecond
	for {
		pod, err := r.pod(ctx, name)
		if err != nil {
			return err
		}
		if pod == nil || pod.UID != uid {
			return nil
		}
		if time.Now().After(deadline) {
			return core.Errorf(core.CodeInternal, "pod %s still there %s after its deletion", name, within)
		}
		if err := sleep(ctx, wait); err != nil {
			return translate(ctx, err, "wait for the deletion of pod "+name)
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// StartContainer lets the container's pod run: it removes the start gate
// of a created (or stopped) pod, creates an ended pod again, and waits
// until the runtime container runs and the pod has an address, or fails:
// an image no node has is internal_error with core.ErrImageMissing, any
// other failure internal_error naming Kubernetes' reason (OOMKilled,
// Evicted, Unschedulable, ...), and so is a pod that does not run within
// the pod ready timeout. A pod whose NetworkPolicy is gone is not
// started.
func (r *Runtime) StartContainer(ctx context.Context, containerID string, runtimePort int) (string, error) {
	runtimePort = core.RuntimePortOrDefault(runtimePort)
	c, err := r.api()
	if err != nil {
		return "", err
	}
	pod, err := r.podOf(ctx, containerID)
	if err != nil {
		return "", err
	}
	if pod == nil {
		return "", core.NotFound("container %s not found", containerID)
	}
	err = c.net.Get().Namespace(r.opts.Namespace).Resource("networkpolicies").Name(pod.Name).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return "", core.Errorf(core.CodeInternal, "pod %s has no network policy; it cannot be started safely", pod.Name)
	}
	if err != nil {
		return "", translate(ctx, err, "read network policy "+pod.Name)
	}
	switch {
	case pod.DeletionTimestamp != nil:
		return "", core.Errorf(core.CodeInternal, "pod %s is being deleted", pod.Name)
	case gated(pod):
		if pod, err = r.ungate(ctx, c, pod); err != nil {
			return "", err
		}
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// A pod never runs twice: its successor takes its name and id.
		if err := r.deletePod(ctx, pod, 0); err != nil {
			return "", err
		}
		if pod, err = r.recreate(ctx, pod, false); err != nil {
			return "", err
		}
	}
	ip, err := r.waitRunning(ctx, pod)
	if err != nil {
		return "", err
	}
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(runtimePort)), nil
}

// ungate removes the pod's start gate (and its stopped mark): the
// scheduler places it and the kubelet starts it. A concurrent start may
// have removed them a moment ago: a failed patch is checked against the
// pod as it is now.
func (r *Runtime) ungate(ctx context.Context, c *clients, pod *corev1.Pod) (*corev1.Pod, error) {
	patch := []map[string]any{{"op": "replace", "path": "/spec/schedulingGates", "value": []any{}}}
	if _, ok := pod.Annotations[annotStopped]; ok {
		patch = append(patch, map[string]any{"op": "remove", "path": "/metadata/annotations/" + annotStopped})
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return nil, core.Wrap(err, core.CodeInternal, "encode patch")
	}
	var out corev1.Pod
	err = c.core.Patch(types.JSONPatchType).Namespace(r.opts.Namespace).Resource("pods").Name(pod.Name).Body(body).Do(ctx).Into(&out)
	if err == nil {
		return &out, nil
	}
	cur, gerr := r.pod(ctx, pod.Name)
	switch {
	case gerr != nil:
		return nil, gerr
	case cur == nil || cur.Annotations[annotToken] != pod.Annotations[annotToken]:
		return nil, core.NotFound("container %s not found", containerID(pod))
	case !gated(cur):
		return cur, nil
	}
	return nil, translate(ctx, err, "start pod "+pod.Name)
}

// recreate creates the deleted pod again under the same name and token,
// gated and marked stopped when stopped is set, running otherwise.
func (r *Runtime) recreate(ctx context.Context, pod *corev1.Pod, stopped bool) (*corev1.Pod, error) {
	next := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: pod.Name, Namespace: pod.Namespace, Labels: pod.Labels, Annotations: pod.Annotations,
		},
		Spec: *pod.Spec.DeepCopy(),
	}
	next.Spec.NodeName = ""
	next.Spec.SchedulingGates = nil
	delete(next.Annotations, annotStopped)
	if stopped {
		next.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: startGate}}
		next.Annotations[annotStopped] = time.Now().UTC().Format(time.RFC3339)
	}
	c, err := r.api()
	if err != nil {
		return nil, err
	}
	var out corev1.Pod
	err = c.core.Post().Namespace(r.opts.Namespace).Resource("pods").Body(next).Do(ctx).Into(&out)
	if err != nil {
		return nil, translate(ctx, err, "create pod "+pod.Name+" again")
	}
	return &out, nil
}

// imageReasons are the reasons a container waits for an image it will
// not get.
var imageReasons = map[string]bool{
	"ErrImageNeverPull": true, "ErrImagePull": true, "ImagePullBackOff": true,
	"InvalidImageName": true, "ImageInspectError": true,
}

// failReasons are the reasons a container waits that end its start.
var failReasons = map[string]bool{
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
	"CrashLoopBackOff": true, "PreCreateHookError": true, "PreStartHookError": true,
}

// waitRunning polls the pod until its runtime container runs and the pod
// has an address, which it returns, or fails (see StartContainer).
func (r *Runtime) waitRunning(ctx context.Context, pod *corev1.Pod) (string, error) {
	name, token := pod.Name, pod.Annotations[annotToken]
	deadline := time.Now().Add(r.opts.PodReadyTimeout)
	wait := 25 * time.Millisecond
	for {
		if pod == nil || pod.Annotations[annotToken] != token {
			return "", core.NotFound("container %s/%s not found", name, token)
		}
		ip, done, err := runningOrFailed(pod)
		if done {
			return ip, err
		}
		if time.Now().After(deadline) {
			return "", core.Errorf(core.CodeInternal, "pod %s does not run after %s: %s", name, r.opts.PodReadyTimeout, podStatus(pod))
		}
		if err := sleep(ctx, wait); err != nil {
			return "", translate(ctx, err, "wait for pod "+name)
		}
		wait = min(2*wait, 250*time.Millisecond)
		if pod, err = r.pod(ctx, name); err != nil {
			return "", err
		}
	}
}

// runningOrFailed reads a pod's status: its address once its runtime
// runs; done with an error once it cannot run any more.
func runningOrFailed(pod *corev1.Pod) (ip string, done bool, err error) {
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded || pod.DeletionTimestamp != nil {
		return "", true, core.Errorf(core.CodeInternal, "pod %s is not running right after start: %s", pod.Name, podStatus(pod))
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != containerName {
			continue
		}
		switch {
		case cs.State.Running != nil && pod.Status.PodIP != "":
			return pod.Status.PodIP, true, nil
		case cs.State.Terminated != nil:
			return "", true, core.Errorf(core.CodeInternal, "pod %s is not running right after start: %s", pod.Name, podStatus(pod))
		case cs.State.Waiting != nil && imageReasons[cs.State.Waiting.Reason]:
			w := cs.State.Waiting
			return "", true, missingImageError(cs.Image, w.Reason+": "+w.Message, nil)
		case cs.State.Waiting != nil && failReasons[cs.State.Waiting.Reason]:
			return "", true, core.Errorf(core.CodeInternal, "pod %s cannot start: %s", pod.Name, podStatus(pod))
		}
	}
	for _, cond := range pod.Status.Conditions {
		// A claim that does not exist never appears: Docker would have
		// made the volume, Kubernetes waits for it forever.
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse &&
			strings.Contains(cond.Message, "persistentvolumeclaim") && strings.Contains(cond.Message, "not found") {
			return "", true, core.Errorf(core.CodeInternal, "pod %s cannot be scheduled: %s", pod.Name, cond.Message)
		}
	}
	return "", false, nil
}

// podStatus sums up why a pod is where it is, for error messages: its
// phase and reason, the runtime container's state with Kubernetes'
// reason (OOMKilled, ErrImageNeverPull, ...), and a failed condition.
func podStatus(pod *corev1.Pod) string {
	var parts []string
	phase := string(pod.Status.Phase)
	if phase == "" {
		phase = "Pending"
	}
	if pod.Status.Reason != "" {
		phase += " (" + pod.Status.Reason + ")"
	}
	parts = append(parts, "phase "+phase)
	if pod.Status.Message != "" {
		parts = append(parts, pod.Status.Message)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		switch st := cs.State; {
		case st.Waiting != nil:
			parts = append(parts, "waiting: "+join(st.Waiting.Reason, st.Waiting.Message))
		case st.Terminated != nil:
			parts = append(parts, fmt.Sprintf("terminated: %s (exit code %d)", join(st.Terminated.Reason, st.Terminated.Message), st.Terminated.ExitCode))
		}
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Status == corev1.ConditionFalse && cond.Reason != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", cond.Type, join(cond.Reason, cond.Message)))
		}
	}
	return strings.Join(parts, "; ")
}

func join(reason, message string) string {
	if message == "" {
		return reason
	}
	return reason + " " + message
}

// StopContainer deletes a running pod, giving its runtime grace (whole
// seconds) before it is killed, and puts a gated pod of the same name
// and token in its place: the stopped container, which StartContainer
// runs again. A created, stopped or ended pod is left as it is.
func (r *Runtime) StopContainer(ctx context.Context, containerID string, grace time.Duration) error {
	pod, err := r.podOf(ctx, containerID)
	if err != nil || pod == nil {
		return err
	}
	switch stateOf(pod) {
	case core.ContainerRunning:
	case core.ContainerRemoving:
		return r.waitGone(ctx, pod.Name, pod.UID, grace+podGoneMargin)
	default:
		return nil
	}
	if err := r.deletePod(ctx, pod, max(grace, 0)); err != nil {
		return err
	}
	_, err = r.recreate(ctx, pod, true)
	return err
}

// RemoveContainer deletes the pod, giving a running runtime podGrace to
// exit, waits until it is gone, then deletes its NetworkPolicy: the
// policy holds as long as the pod's processes may run.
func (r *Runtime) RemoveContainer(ctx context.Context, containerID string) error {
	pod, err := r.podOf(ctx, containerID)
	if err != nil || pod == nil {
		return err
	}
	grace := time.Duration(0)
	if stateOf(pod) == core.ContainerRunning && pod.Spec.NodeName != "" {
		grace = podGrace
	}
	if err := r.deletePod(ctx, pod, grace); err != nil {
		return err
	}
	c, err := r.api()
	if err != nil {
		return err
	}
	if cur, err := r.pod(ctx, pod.Name); err != nil || cur != nil {
		return err // a new pod of the session has the name, and the policy
	}
	err = c.net.Delete().Namespace(r.opts.Namespace).Resource("networkpolicies").Name(pod.Name).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	return translate(ctx, err, "delete network policy "+pod.Name)
}

// PauseContainer cannot freeze a pod: Kubernetes has no pause. It
// returns internal_error with core.ErrPauseUnsupported for a running
// container, conflict for one that is not running, not_found for a
// missing one.
func (r *Runtime) PauseContainer(ctx context.Context, containerID string) error {
	st, err := r.ContainerState(ctx, containerID)
	switch {
	case err != nil:
		return err
	case st == core.ContainerNotFound:
		return core.NotFound("container %s not found", containerID)
	case st != core.ContainerRunning:
		return core.Conflict("container %s is %s, not running", containerID, st)
	}
	return core.Wrap(core.ErrPauseUnsupported, core.CodeInternal, "pause container "+containerID+": Kubernetes cannot pause pods")
}

// UnpauseContainer has nothing to thaw: no pod is ever paused. A missing
// container is not_found.
func (r *Runtime) UnpauseContainer(ctx context.Context, containerID string) error {
	st, err := r.ContainerState(ctx, containerID)
	if err == nil && st == core.ContainerNotFound {
		return core.NotFound("container %s not found", containerID)
	}
	return err
}

// ContainerState reads the container's pod (see stateOf).
func (r *Runtime) ContainerState(ctx context.Context, containerID string) (core.ContainerState, error) {
	pod, err := r.podOf(ctx, containerID)
	if err != nil {
		return "", err
	}
	if pod == nil {
		return core.ContainerNotFound, nil
	}
	return stateOf(pod), nil
}

// ListContainers lists the sandbox pods carrying every given label. The
// API selects by the sanitised values; the originals are compared here.
func (r *Runtime) ListContainers(ctx context.Context, labels map[string]string) ([]core.ContainerInfo, error) {
	c, err := r.api()
	if err != nil {
		return nil, err
	}
	var list corev1.PodList
	req := c.core.Get().Namespace(r.opts.Namespace).Resource("pods")
	if sel := selector(labels); sel != "" {
		req = req.Param("labelSelector", sel)
	}
	if err := req.Do(ctx).Into(&list); err != nil {
		return nil, translate(ctx, err, "list pods")
	}
	out := make([]core.ContainerInfo, 0, len(list.Items))
	for i := range list.Items {
		pod := &list.Items[i]
		if _, helper := pod.Labels[LabelHelper]; helper || pod.Annotations[annotToken] == "" {
			continue
		}
		info := infoOf(pod)
		if matches(info.Labels, labels) {
			out = append(out, info)
		}
	}
	return out, nil
}

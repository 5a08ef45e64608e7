package kubernetes

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bayhq/bay/core"
)

// Annotations the runtime keeps on its pods.
const (
	// annotToken is the pod's creation token: a container id is the pod's
	// name and this token, so that an id names one creation, not every pod
	// that ever had the name (a replaced pod's id is not found).
	annotToken = "bay.container_token"
	// annotCreated is when the container was first created (RFC 3339);
	// a stopped container's pod is younger.
	annotCreated = "bay.created_at"
	// annotStopped is set on the gated pod that stands for a stopped
	// container.
	annotStopped = "bay.stopped"
)

// startGate holds a created pod back from scheduling until
// StartContainer removes it: the created-but-not-started state Docker has
// and Kubernetes does not.
const startGate = "bay.start"

// containerName is the name of the runtime container inside its pod.
const containerName = "runtime"

// workspaceVolume is the name of the locker's volume inside a pod.
const workspaceVolume = "workspace"

// capsRoot are the capabilities Ship keeps, as the Docker adapter's list
// (adapters/docker/container.go): its entrypoint runs as root only to
// prepare /workspace and then runs every user-facing process as uid 1000.
var capsRoot = []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"}

// capsSudo are added for profiles with allow_sudo.
var capsSudo = []corev1.Capability{"AUDIT_WRITE"}

// containerID returns the id of a pod: its name and creation token.
func containerID(pod *corev1.Pod) string { return pod.Name + "/" + pod.Annotations[annotToken] }

// parseID splits a container id into pod name and token; ok is false for
// an id this runtime never made.
func parseID(id string) (name, token string, ok bool) {
	name, token, ok = strings.Cut(id, "/")
	return name, token, ok && name != "" && token != ""
}

// newToken returns a fresh creation token.
func newToken() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sessionPod returns the gated pod of the spec's container. The pod
// carries spec.Labels, sanitised, with the originals in annotations.
func (r *Runtime) sessionPod(spec core.ContainerSpec, aliases []corev1.HostAlias) *corev1.Pod {
	c := spec.ContainerProfile()
	port := core.RuntimePortOrDefault(c.Port)
	lbls, notes := objectLabels(spec.Labels(r.opts.InstanceID))
	annotations := map[string]string{
		annotToken:   newToken(),
		annotCreated: time.Now().UTC().Format(time.RFC3339Nano),
	}
	maps.Copy(annotations, notes)

	sec := spec.Security()
	caps := &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	if !sec.NoCapabilities {
		caps.Add = slices.Clone(capsRoot)
		if spec.Profile.AllowSudo {
			caps.Add = append(caps.Add, capsSudo...)
		}
	}
	// sudo needs setuid binaries to work: a profile that allows it keeps
	// privilege escalation, as it keeps Docker's no-new-privileges off.
	escalate := spec.Profile.AllowSudo && !sec.NoNewPrivileges
	csc := &corev1.SecurityContext{
		Capabilities:             caps,
		AllowPrivilegeEscalation: &escalate,
		ReadOnlyRootFilesystem:   &sec.ReadOnlyRootfs,
	}
	if uid, gid, ok := parseUser(sec.User); ok {
		csc.RunAsUser, csc.RunAsGroup = &uid, &gid
	}

	env := spec.Env()
	var envVars []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(env)) {
		envVars = append(envVars, corev1.EnvVar{Name: k, Value: env[k]})
	}

	limits := corev1.ResourceList{}
	requests := corev1.ResourceList{}
	if c.CPUs > 0 {
		milli := int64(c.CPUs * 1000)
		limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
		// Requests are what the scheduler reserves. Reserving the limits
		// would fit a tenth of the idle sandboxes Docker fits on the same
		// machine: a sandbox reserves a tenth of its CPUs and a quarter of
		// its memory, and may use up to its limits.
		requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(max(milli/10, 1), resource.DecimalSI)
	}
	if c.MemoryBytes > 0 {
		limits[corev1.ResourceMemory] = *resource.NewQuantity(c.MemoryBytes, resource.BinarySI)
		requests[corev1.ResourceMemory] = *resource.NewQuantity(c.MemoryBytes/4, resource.BinarySI)
	}

	volumes := []corev1.Volume{{
		Name: workspaceVolume,
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: core.VolumeName(spec.LockerID),
		}},
	}}
	mounts := []corev1.VolumeMount{{Name: workspaceVolume, MountPath: core.MountPath}}
	for i, path := range slices.Sorted(maps.Keys(sec.Tmpfs)) {
		name := "tmp-" + strconv.Itoa(i)
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: path})
	}
	if c.ShmBytes > 0 {
		volumes = append(volumes, corev1.Volume{Name: "shm", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory,
				SizeLimit: resource.NewQuantity(c.ShmBytes, resource.BinarySI)},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "shm", MountPath: "/dev/shm"})
	}

	no := false
	grace := int64(podGrace / time.Second)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        spec.Name(),
			Namespace:   r.opts.Namespace,
			Labels:      r.labels(lbls),
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			SchedulingGates:               []corev1.PodSchedulingGate{{Name: startGate}},
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			DNSPolicy:                     corev1.DNSDefault,
			HostAliases:                   aliases,
			NodeSelector:                  r.opts.NodeSelector,
			TerminationGracePeriodSeconds: &grace,
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: volumes,
			Containers: []corev1.Container{{
				Name:            containerName,
				Image:           c.Image,
				ImagePullPolicy: corev1.PullPolicy(r.opts.ImagePullPolicy),
				Env:             envVars,
				Ports:           []corev1.ContainerPort{{Name: "runtime", ContainerPort: int32(port), Protocol: corev1.ProtocolTCP}}, // #nosec G115 -- a port
				Resources:       corev1.ResourceRequirements{Limits: limits, Requests: requests},
				VolumeMounts:    mounts,
				ReadinessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/health", Port: intstr.FromInt32(int32(port)), // #nosec G115 -- a port
					}},
					PeriodSeconds: 2, TimeoutSeconds: 2, FailureThreshold: 3,
				},
				SecurityContext: csc,
			}},
		},
	}
	if r.opts.RuntimeClassName != "" {
		pod.Spec.RuntimeClassName = &r.opts.RuntimeClassName
	}
	if sec.UserNamespaces {
		// Chromium's own sandbox needs user namespaces, which the runtime's
		// default seccomp profile forbids.
		pod.Spec.SecurityContext.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined
	}
	return pod
}

// podGrace is how long a sandbox pod's runtime has after SIGTERM before
// it is killed, when Bay removes it. Ship exits at once.
const podGrace = 2 * time.Second

// parseUser reads "uid:gid".
func parseUser(s string) (uid, gid int64, ok bool) {
	u, g, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	uid, err1 := strconv.ParseInt(u, 10, 64)
	gid, err2 := strconv.ParseInt(g, 10, 64)
	return uid, gid, err1 == nil && err2 == nil
}

// gated reports whether the pod is held back by the start gate.
func gated(pod *corev1.Pod) bool {
	return slices.ContainsFunc(pod.Spec.SchedulingGates, func(g corev1.PodSchedulingGate) bool { return g.Name == startGate })
}

// stateOf maps a pod onto a container state (lifecycle.md §13.3): a
// gated pod is created, or exited when it stands for a stopped one; a pod
// on its way to run, or running, is running; one that ended is exited.
func stateOf(pod *corev1.Pod) core.ContainerState {
	switch {
	case pod.DeletionTimestamp != nil:
		return core.ContainerRemoving
	case gated(pod) && pod.Annotations[annotStopped] != "":
		return core.ContainerExited
	case gated(pod):
		return core.ContainerCreated
	}
	switch pod.Status.Phase {
	case corev1.PodPending, corev1.PodRunning, "":
		return core.ContainerRunning
	default:
		return core.ContainerExited
	}
}

// infoOf describes a pod as a container.
func infoOf(pod *corev1.Pod) core.ContainerInfo {
	out := core.ContainerInfo{
		ID:     containerID(pod),
		Name:   pod.Name,
		Labels: originalLabels(pod.Labels, pod.Annotations),
		State:  stateOf(pod),
	}
	out.Created = pod.CreationTimestamp.Time
	if t, err := time.Parse(time.RFC3339Nano, pod.Annotations[annotCreated]); err == nil {
		out.Created = t
	}
	claims := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	if len(pod.Spec.Containers) == 0 {
		return out
	}
	c := pod.Spec.Containers[0]
	out.Image = c.Image
	out.Env = make(map[string]string, len(c.Env))
	for _, e := range c.Env {
		out.Env[e.Name] = e.Value
	}
	for _, m := range c.VolumeMounts {
		if claim, ok := claims[m.Name]; ok {
			out.Mounts = append(out.Mounts, core.Mount{Volume: claim, Target: m.MountPath, ReadOnly: m.ReadOnly})
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		out.NanoCPUs = q.MilliValue() * 1_000_000
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		out.MemoryBytes = q.Value()
	}
	return out
}

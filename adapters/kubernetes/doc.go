// Package kubernetes implements core.Runtime on a Kubernetes cluster
// (kubernetes.md): one PersistentVolumeClaim bay-<locker id> per locker,
// one Pod bay-session-<session id> per session runtime, and one
// NetworkPolicy of the same name that seals the pod's network, all in one
// namespace and carrying the bay.* labels of lifecycle.md §13.
//
// It imports core, k8s.io/api's core and networking types and client-go's
// REST client (never the generated clientset, whose scheme registers every
// API group when the program starts, Docker or not). No Kubernetes type
// escapes it: every API error is translated into a *core.Error here.
//
// What Kubernetes cannot do as Docker does:
//
//   - A pod is never created without starting, and never started twice.
//     A created container is a pod held back by a scheduling gate; a
//     stopped one is deleted and created again, gated, under the same
//     name (its id, name/token, stays the same).
//   - Pods cannot join each other's network namespace: profiles with more
//     than one container are refused (validation_error).
//   - Pods cannot be paused: PauseContainer returns core.ErrPauseUnsupported.
//   - The process-count limit is the kubelet's podPidsLimit, the same for
//     every pod of a node: a profile's pids limit is not applied, and
//     ContainerInfo.PidsLimit is 0.
//   - The network seal is a NetworkPolicy, enforced by the cluster's
//     network plugin; the API cannot say when a plugin has applied it.
package kubernetes

package kubernetes

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PodOf exposes podOf: the pod of a container id, or nil.
func (r *Runtime) PodOf(ctx context.Context, id string) (*corev1.Pod, error) { return r.podOf(ctx, id) }

// Policy returns the NetworkPolicy of a pod.
func (r *Runtime) Policy(ctx context.Context, name string) (*networkingv1.NetworkPolicy, error) {
	c, err := r.api()
	if err != nil {
		return nil, err
	}
	var p networkingv1.NetworkPolicy
	err = c.net.Get().Namespace(r.opts.Namespace).Resource("networkpolicies").Name(name).Do(ctx).Into(&p)
	return &p, err
}

// CreatePod creates a pod as it is (the tests' own, not a sandbox).
func (r *Runtime) CreatePod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	c, err := r.api()
	if err != nil {
		return nil, err
	}
	pod.Namespace = r.opts.Namespace
	var out corev1.Pod
	err = c.core.Post().Namespace(r.opts.Namespace).Resource("pods").Body(pod).Do(ctx).Into(&out)
	return &out, err
}

// WaitPodIP waits until the named pod runs and returns its address.
func (r *Runtime) WaitPodIP(ctx context.Context, name string) (string, error) {
	pod, err := r.pod(ctx, name)
	if err != nil || pod == nil {
		return "", err
	}
	pod.Annotations = map[string]string{annotToken: ""}
	for {
		if ip, done, err := runningOrFailed(pod); done {
			return ip, err
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
		if pod, err = r.pod(ctx, name); err != nil || pod == nil {
			return "", err
		}
	}
}

// CreateNamespace creates a namespace with the given labels.
func (r *Runtime) CreateNamespace(ctx context.Context, name string, lbls map[string]string) error {
	c, err := r.api()
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
	return c.core.Post().Resource("namespaces").Body(ns).Do(ctx).Error()
}

// DeleteNamespaces deletes the namespace name, or every namespace that
// carries label and is older than age when name is empty.
func (r *Runtime) DeleteNamespaces(ctx context.Context, name, label string, age time.Duration) error {
	c, err := r.api()
	if err != nil {
		return err
	}
	if name != "" {
		err := c.core.Delete().Resource("namespaces").Name(name).Do(ctx).Error()
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	var list corev1.NamespaceList
	if err := c.core.Get().Resource("namespaces").Param("labelSelector", label).Do(ctx).Into(&list); err != nil {
		return err
	}
	for _, ns := range list.Items {
		if time.Since(ns.CreationTimestamp.Time) > age {
			_ = c.core.Delete().Resource("namespaces").Name(ns.Name).Do(ctx).Error()
		}
	}
	return nil
}

// DeleteLabelled deletes every pod (at once), network policy and claim
// of the namespace that carries key=value.
func (r *Runtime) DeleteLabelled(ctx context.Context, key, value string) error {
	c, err := r.api()
	if err != nil {
		return err
	}
	sel := labels.SelectorFromSet(map[string]string{key: value}).String()
	zero := int64(0)
	del := &metav1.DeleteOptions{GracePeriodSeconds: &zero}
	if err := c.core.Delete().Namespace(r.opts.Namespace).Resource("pods").Param("labelSelector", sel).Body(del).Do(ctx).Error(); err != nil {
		return err
	}
	if err := c.net.Delete().Namespace(r.opts.Namespace).Resource("networkpolicies").Param("labelSelector", sel).Do(ctx).Error(); err != nil {
		return err
	}
	return c.core.Delete().Namespace(r.opts.Namespace).Resource("persistentvolumeclaims").Param("labelSelector", sel).Do(ctx).Error()
}

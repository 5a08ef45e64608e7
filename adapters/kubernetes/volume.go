package kubernetes

import (
	"context"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bayhq/bay/core"
)

// CreateVolume creates the locker's claim bay-<locker id>: ReadWriteOnce,
// of the configured storage class, requesting the locker's size limit
// (DefaultVolumeMB when it has none; a claim always names a size, which
// the storage may or may not enforce). An existing claim is reused as it
// is; one still being deleted is waited for first.
func (r *Runtime) CreateVolume(ctx context.Context, v core.VolumeSpec) error {
	if v.SizeLimitMB < 0 {
		return core.Invalid("volume size limit %d MiB is negative", v.SizeLimitMB)
	}
	c, err := r.api()
	if err != nil {
		return err
	}
	name := core.VolumeName(v.LockerID)
	mb := v.SizeLimitMB
	if mb == 0 {
		mb = max(r.opts.DefaultVolumeMB, 1)
	}
	lbls, notes := objectLabels(map[string]string{
		core.LabelOwner:    v.Owner,
		core.LabelLockerID: v.LockerID,
		core.LabelManaged:  strconv.FormatBool(v.Managed),
	})
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.opts.Namespace, Labels: r.labels(lbls), Annotations: notes},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: *resource.NewQuantity(mb<<20, resource.BinarySI),
			}},
		},
	}
	if r.opts.StorageClass != "" {
		claim.Spec.StorageClassName = &r.opts.StorageClass
	}
	for range 2 {
		err = c.core.Post().Namespace(r.opts.Namespace).Resource("persistentvolumeclaims").Body(claim).Do(ctx).Error()
		if !apierrors.IsAlreadyExists(err) {
			return translate(ctx, err, "create claim "+name)
		}
		var cur corev1.PersistentVolumeClaim
		err = c.core.Get().Namespace(r.opts.Namespace).Resource("persistentvolumeclaims").Name(name).Do(ctx).Into(&cur)
		switch {
		case apierrors.IsNotFound(err):
			continue // deleted meanwhile
		case err != nil:
			return translate(ctx, err, "read claim "+name)
		case cur.DeletionTimestamp == nil:
			return nil
		}
		// A claim being deleted (its pods still going) is not the locker's.
		if err := r.waitClaimGone(ctx, name); err != nil {
			return err
		}
	}
	return core.Conflict("claim %s: name still taken", name)
}

// waitClaimGone polls until the claim is gone, for up to a minute.
func (r *Runtime) waitClaimGone(ctx context.Context, name string) error {
	c, err := r.api()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.core.Get().Namespace(r.opts.Namespace).Resource("persistentvolumeclaims").Name(name).Do(ctx).Error()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return translate(ctx, err, "read claim "+name)
		}
		if time.Now().After(deadline) {
			return core.Conflict("claim %s is still being deleted", name)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return translate(ctx, err, "wait for the deletion of claim "+name)
		}
	}
}

// DeleteVolume deletes the locker's claim. A claim that a pod of the
// runtime mounts, running or not, is a conflict; a missing one is not an
// error. The claim itself goes once the storage has let it go; a pod that
// is not Bay's and mounts it delays that (Kubernetes' claim protection).
func (r *Runtime) DeleteVolume(ctx context.Context, lockerID string) error {
	c, err := r.api()
	if err != nil {
		return err
	}
	name := core.VolumeName(lockerID)
	var pods corev1.PodList
	err = c.core.Get().Namespace(r.opts.Namespace).Resource("pods").
		Param("labelSelector", selector(map[string]string{core.LabelLockerID: lockerID})).Do(ctx).Into(&pods)
	if err != nil {
		return translate(ctx, err, "list pods of claim "+name)
	}
	for _, p := range pods.Items {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name {
				return core.Conflict("volume %s is in use by pod %s", name, p.Name).
					WithDetails(map[string]any{"pod": p.Name})
			}
		}
	}
	err = c.core.Delete().Namespace(r.opts.Namespace).Resource("persistentvolumeclaims").Name(name).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	return translate(ctx, err, "delete claim "+name)
}

// claimLimit returns the details of a full locker: its claim's size in
// bytes.
func (r *Runtime) claimLimit(ctx context.Context, lockerID string) map[string]any {
	c, err := r.api()
	if err != nil {
		return nil
	}
	var cur corev1.PersistentVolumeClaim
	name := core.VolumeName(lockerID)
	if err := c.core.Get().Namespace(r.opts.Namespace).Resource("persistentvolumeclaims").Name(name).Do(ctx).Into(&cur); err != nil {
		return nil
	}
	q, ok := cur.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil
	}
	return map[string]any{"limit_bytes": q.Value()}
}

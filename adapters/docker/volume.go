package docker

import (
	"context"
	"strconv"

	"github.com/docker/docker/api/types/volume"

	"github.com/bayhq/bay/core"
)

// CreateVolume creates the locker's volume bay-<locker id>. Docker answers a
// create of an existing name with that volume, so the call is idempotent.
// A volume with a size limit is a file system of its own (lockerdisk.go);
// one without is a plain local volume, as every volume made before limits
// were enforced.
func (r *Runtime) CreateVolume(ctx context.Context, v core.VolumeSpec) error {
	if v.SizeLimitMB < 0 {
		return core.Invalid("volume size limit %d MiB is negative", v.SizeLimitMB)
	}
	if v.SizeLimitMB > 0 {
		return r.createLimitedVolume(ctx, v)
	}
	name := core.VolumeName(v.LockerID)
	labels := r.labels(map[string]string{
		core.LabelOwner:    v.Owner,
		core.LabelLockerID: v.LockerID,
		core.LabelManaged:  strconv.FormatBool(v.Managed),
	})
	if _, err := r.api().VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: labels}); err != nil {
		return translate(ctx, err, "create volume "+name)
	}
	return nil
}

// DeleteVolume removes the locker's volume, then its disk volume if it has
// a size limit. Docker answers 404 for a missing volume (success here) and
// 409 for one still referenced by a container; the disk stays mounted then.
func (r *Runtime) DeleteVolume(ctx context.Context, lockerID string) error {
	name := core.VolumeName(lockerID)
	err := translate(ctx, r.api().VolumeRemove(ctx, name, false), "delete volume "+name)
	if err != nil && core.CodeOf(err) != core.CodeNotFound {
		return err
	}
	return r.deleteDisk(ctx, lockerID)
}

// labels returns the configured extra labels overlaid with own.
func (r *Runtime) labels(own map[string]string) map[string]string {
	out := make(map[string]string, len(r.opts.Labels)+len(own))
	for k, v := range r.opts.Labels {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

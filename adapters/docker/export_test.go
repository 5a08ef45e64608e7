package docker

import "context"

// DetachDisk unmounts a limited locker's file system and frees its loop
// device, as a reboot of the Docker host does.
func (r *Runtime) DetachDisk(ctx context.Context, lockerID string) error {
	dv, err := r.api().VolumeInspect(ctx, diskVolumeName(lockerID))
	if err != nil {
		return translate(ctx, err, "inspect disk volume")
	}
	return r.runDiskHelper(ctx, lockerID, dv.Mountpoint, "detach", 0)
}

// DiskVolumeName exposes diskVolumeName.
var DiskVolumeName = diskVolumeName

package docker

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"maps"
	"path"
	"strconv"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/bayhq/bay/core"
)

// A locker with a size limit lives in a file system of its own. Docker's
// local volume driver takes a size option only where /var/lib/docker is
// xfs mounted with prjquota (elsewhere, as on ext4, the create fails with
// "quota size requested but no quota support"), and a full file system is
// the one limit every program understands (ENOSPC), that df shows, and that
// no write path (the archive API, a process in the sandbox) goes around.
//
// Two volumes make up such a locker:
//
//   - bay-<locker id>-disk, a plain local volume, holds locker.img: a
//     sparse file with an ext4 file system sized so that the limit is
//     usable. A short-lived helper container (lockerdisk.sh) attaches it to
//     a loop device and mounts it at the volume's mnt/ directory; the bind
//     it gets the volume through has shared propagation, so the mount is
//     made on the Docker host and outlives the helper.
//   - bay-<locker id>, the volume containers mount at /workspace as they
//     mount every locker's, is a local volume binding the disk volume's
//     mnt/workspace. Docker mounts it while containers use it (from their
//     create on, to copy the image's /workspace into an empty volume), as
//     for any local volume with options. Sandboxes sharing a locker share
//     the one mounted file system.
//
// mnt/workspace exists only on the mounted file system, so while the image
// is not mounted (after the host rebooted: loop devices and mounts are
// gone) Docker refuses to create or start a container of the locker
// ("failed to mount local volume ... no such file or directory") instead of
// letting it write to the host's disk without limit. RestoreVolumes, or a
// CreateVolume of the locker, mounts it again.
//
// The disk volume must be removed through DeleteVolume only: Docker removes
// a volume's directory recursively, so `docker volume rm` or `prune` of a
// mounted disk volume deletes the locker's files (as it would a plain
// volume's) and leaves its mount and loop device behind.
//
// Everything goes through the Docker API, so Bay may run in a container
// with only the Docker socket. The helper runs GuardImage, which must hold
// sh, util-linux (losetup, mount, flock, mountpoint) and e2fsprogs (Ship's
// images do). It needs CAP_SYS_ADMIN and CAP_MKNOD, /dev/loop-control and
// the loop devices (block major 7), no AppArmor or SELinux confinement and
// the host's user namespace; it has no network. Privileged containers are
// not used: where the daemon's bounding set lacks a capability (as on
// hosts without CAP_SYS_RESOURCE) they do not start at all.
//
// Lockers without a limit (SizeLimitMB 0), and every volume made before
// limits were enforced, stay plain local volumes, untouched.

// lockerDiskScript attaches and detaches a locker's file system.
//
//go:embed lockerdisk.sh
var lockerDiskScript string

// LabelLockerDisk marks a locker's disk volume and the helpers that attach
// it; its value is the locker id.
const LabelLockerDisk = "bay.locker_disk"

// LabelSizeLimit records a locker volume's size limit in MiB.
const LabelSizeLimit = "bay.size_limit_mb"

// diskHelperPrefix names the helpers. It is not bay-session-, so
// orphan-container GC never considers them.
const diskHelperPrefix = "bay-locker-disk-"

// diskWorkspace is where, inside the disk volume, the sandboxes' /workspace
// lives: a directory of the mounted file system, never of the host's.
const diskWorkspace = "mnt/workspace"

// restoreParallel bounds the helpers RestoreVolumes runs at once.
const restoreParallel = 8

// diskVolumeName names the volume holding the file system of a locker.
func diskVolumeName(lockerID string) string { return core.VolumeName(lockerID) + "-disk" }

// createLimitedVolume creates (or, for an existing locker, mounts again)
// the two volumes of a locker with a size limit. The disk is mounted before
// the locker's volume exists, and a failure part way leaves what
// DeleteVolume removes.
func (r *Runtime) createLimitedVolume(ctx context.Context, v core.VolumeSpec) error {
	name := core.VolumeName(v.LockerID)
	existing, err := r.api().VolumeInspect(ctx, name)
	switch {
	case err == nil:
		if _, limited := existing.Labels[LabelSizeLimit]; !limited {
			// A volume made without a limit stays as it is: its data
			// cannot move into a file system without a copy.
			return nil
		}
		return r.attachDisk(ctx, v.LockerID, 0)
	case !cerrdefs.IsNotFound(err):
		return translate(ctx, err, "inspect volume "+name)
	}
	own := map[string]string{
		core.LabelOwner:    v.Owner,
		core.LabelLockerID: v.LockerID,
		core.LabelManaged:  strconv.FormatBool(v.Managed),
		LabelSizeLimit:     strconv.FormatInt(v.SizeLimitMB, 10),
	}
	diskLabels := maps.Clone(own)
	diskLabels[LabelLockerDisk] = v.LockerID
	disk := diskVolumeName(v.LockerID)
	dv, err := r.api().VolumeCreate(ctx, volume.CreateOptions{Name: disk, Labels: r.labels(diskLabels)})
	if err != nil {
		return translate(ctx, err, "create volume "+disk)
	}
	if err := r.runDiskHelper(ctx, v.LockerID, dv.Mountpoint, "attach", v.SizeLimitMB); err != nil {
		return err
	}
	_, err = r.api().VolumeCreate(ctx, volume.CreateOptions{
		Name:       name,
		Driver:     "local",
		DriverOpts: map[string]string{"type": "none", "o": "bind", "device": path.Join(dv.Mountpoint, diskWorkspace)},
		Labels:     r.labels(own),
	})
	if err != nil {
		return translate(ctx, err, "create volume "+name)
	}
	return nil
}

// attachDisk mounts the file system of the locker's disk volume unless it
// is mounted. mb is the size of a file system made from nothing; 0 means it
// must exist.
func (r *Runtime) attachDisk(ctx context.Context, lockerID string, mb int64) error {
	disk := diskVolumeName(lockerID)
	dv, err := r.api().VolumeInspect(ctx, disk)
	if err != nil {
		return translate(ctx, err, "inspect volume "+disk)
	}
	return r.runDiskHelper(ctx, lockerID, dv.Mountpoint, "attach", mb)
}

// deleteDisk unmounts and removes the locker's disk volume, if it has one.
// The helper first marks the disk deleted, so that a RestoreVolumes racing
// this does not mount it again. The volume is removed only once its file
// system is unmounted: Docker removes a volume's directory recursively,
// into a mount as well.
func (r *Runtime) deleteDisk(ctx context.Context, lockerID string) error {
	disk := diskVolumeName(lockerID)
	dv, err := r.api().VolumeInspect(ctx, disk)
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return translate(ctx, err, "inspect volume "+disk)
	}
	if err := r.runDiskHelper(ctx, lockerID, dv.Mountpoint, "delete", 0); err != nil {
		return err
	}
	err = translate(ctx, r.api().VolumeRemove(ctx, disk, false), "delete volume "+disk)
	if core.CodeOf(err) == core.CodeNotFound {
		return nil
	}
	return err
}

// RestoreVolumes mounts again the file systems of every locker with a size
// limit whose mount is gone, as after a reboot of the Docker host, and
// returns how many lockers it checked. Mounted ones are left alone, so it
// is safe at any time; it is meant for Bay's start-up. Until it (or a
// CreateVolume of the locker) has run, a container of such a locker does
// not start.
func (r *Runtime) RestoreVolumes(ctx context.Context) (int, error) {
	list, err := r.api().VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelLockerDisk))})
	if err != nil {
		return 0, translate(ctx, err, "list locker disk volumes")
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, restoreParallel)
	)
	for _, dv := range list.Volumes {
		lockerID := dv.Labels[LabelLockerDisk]
		if lockerID == "" || dv.Name != diskVolumeName(lockerID) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := r.runDiskHelper(ctx, lockerID, dv.Mountpoint, "attach", 0)
			if err != nil && r.diskGone(ctx, lockerID) {
				return // deleted meanwhile
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(list.Volumes), errors.Join(errs...)
}

// diskGone says whether the locker's disk volume is gone or being deleted.
func (r *Runtime) diskGone(ctx context.Context, lockerID string) bool {
	_, err := r.api().VolumeInspect(ctx, diskVolumeName(lockerID))
	if cerrdefs.IsNotFound(err) {
		return true
	}
	_, err = r.api().VolumeInspect(ctx, core.VolumeName(lockerID))
	return cerrdefs.IsNotFound(err)
}

// runDiskHelper runs lockerdisk.sh's op on the disk volume whose host
// directory is mountpoint, waits for it and removes it.
func (r *Runtime) runDiskHelper(ctx context.Context, lockerID, mountpoint, op string, mb int64) error {
	if r.opts.GuardImage == "" {
		return core.Errorf(core.CodeInternal, "no image configured for locker disk helpers")
	}
	began := time.Now()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := diskHelperPrefix + hex.EncodeToString(b[:])
	cfg := &container.Config{
		Image:      r.opts.GuardImage,
		User:       "0:0",
		Entrypoint: []string{"sh", "-c", lockerDiskScript, "lockerdisk"},
		Cmd:        []string{op, strconv.FormatInt(mb, 10)},
		Labels:     r.labels(map[string]string{LabelLockerDisk: lockerID}),
	}
	hostCfg := &container.HostConfig{
		NetworkMode: "none",
		CapDrop:     []string{"ALL"},
		CapAdd:      []string{"SYS_ADMIN", "MKNOD"},
		// AppArmor's docker-default profile denies mount; SELinux labels
		// keep a container from mounting block devices. Both are off only
		// for this helper. Under a remapped user namespace CAP_SYS_ADMIN
		// cannot mount ext4.
		SecurityOpt: []string{"no-new-privileges:true", "apparmor=unconfined", "label=disable"},
		UsernsMode:  "host",
		Resources: container.Resources{
			Devices: []container.DeviceMapping{{
				PathOnHost: "/dev/loop-control", PathInContainer: "/dev/loop-control", CgroupPermissions: "rwm",
			}},
			// Loop devices are block major 7. The helper makes their nodes
			// itself: it sees only the devices present when it was created,
			// and losetup may add one.
			DeviceCgroupRules: []string{"b 7:* rwm"},
		},
		Mounts: []mount.Mount{{
			Type: mount.TypeBind, Source: mountpoint, Target: "/disk",
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared},
		}},
	}
	if _, err := r.api().ContainerCreate(ctx, cfg, hostCfg, &network.NetworkingConfig{}, nil, name); err != nil {
		if cerrdefs.IsNotFound(err) {
			return r.missingImage(ctx, r.opts.GuardImage, err, name)
		}
		return translate(ctx, err, "create locker disk helper")
	}
	defer func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := r.api().ContainerRemove(rmCtx, name, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			r.log.WarnContext(ctx, "remove locker disk helper", "container", name, "err", err)
		}
	}()
	if err := r.api().ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return translate(ctx, err, "start locker disk helper of "+lockerID)
	}
	if err := r.waitExit(ctx, name, op+" the disk of locker "+lockerID); err != nil {
		return err
	}
	r.log.DebugContext(ctx, "locker disk "+op, "locker_id", lockerID, "duration_ms", time.Since(began).Milliseconds())
	return nil
}

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"

	"github.com/bayhq/bay/core"
)

// helperPrefix names the short-lived containers used for direct locker file
// access. It is not bay-session-, so orphan-container GC never considers
// them.
const helperPrefix = "bay-locker-io-"

// LabelHelper marks the short-lived locker file-access containers.
const LabelHelper = "bay.locker_io"

// sandboxUID is the uid and gid of the sandbox user (ship.md §2): files
// written straight into a locker belong to it.
const sandboxUID = 1000

// withVolume creates (never starts) a helper container that mounts the
// locker's volume at /workspace, runs fn with its id, and removes it. The
// archive API works on created containers, so no process runs.
func (r *Runtime) withVolume(ctx context.Context, lockerID string, fn func(id string) error) error {
	if r.opts.HelperImage == "" {
		return core.Errorf(core.CodeInternal, "no image configured for locker file access")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := helperPrefix + hex.EncodeToString(b[:])
	cfg := &container.Config{
		Image:      r.opts.HelperImage,
		Labels:     r.labels(map[string]string{LabelHelper: "true", core.LabelLockerID: lockerID}),
		Entrypoint: []string{"/nonexistent"}, // never started
	}
	hostCfg := &container.HostConfig{
		Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: core.VolumeName(lockerID), Target: core.MountPath}},
		NetworkMode: "none",
	}
	resp, err := r.api().ContainerCreate(ctx, cfg, hostCfg, &network.NetworkingConfig{}, nil, name)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return r.missingImage(ctx, r.opts.HelperImage, err, name)
		}
		return translate(ctx, err, "create locker helper container")
	}
	defer func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := r.RemoveContainer(rmCtx, resp.ID); err != nil {
			r.log.WarnContext(ctx, "remove locker helper container", "container_id", resp.ID, "err", err)
		}
	}()
	return fn(resp.ID)
}

// checkNoLinks refuses a path whose existing components include a symlink
// or a non-directory parent, so that direct access never leaves the volume.
// It returns whether the final component exists and its mode.
func (r *Runtime) checkNoLinks(ctx context.Context, id, rel string) (bool, fs.FileMode, error) {
	parts := strings.Split(rel, "/")
	cur := core.MountPath
	for i, p := range parts {
		cur = path.Join(cur, p)
		st, err := r.api().ContainerStatPath(ctx, id, cur)
		if cerrdefs.IsNotFound(err) {
			return false, 0, nil
		}
		if err != nil {
			return false, 0, translate(ctx, err, "stat "+cur)
		}
		if st.Mode&fs.ModeSymlink != 0 {
			return false, 0, core.Invalid("Path contains a symbolic link: %s", path.Join(parts[:i+1]...))
		}
		if i < len(parts)-1 && !st.Mode.IsDir() {
			return false, 0, core.Invalid("Path component is not a directory: %s", path.Join(parts[:i+1]...))
		}
		if i == len(parts)-1 {
			return true, st.Mode, nil
		}
	}
	return false, 0, nil
}

// ReadVolumeFile implements core.Runtime.
func (r *Runtime) ReadVolumeFile(ctx context.Context, lockerID, rel string, maxBytes int64) ([]byte, error) {
	var out []byte
	err := r.withVolume(ctx, lockerID, func(id string) error {
		exists, mode, err := r.checkNoLinks(ctx, id, rel)
		if err != nil {
			return err
		}
		if !exists {
			return core.Errorf(core.CodeFileNotFound, "File not found: %s", rel).WithDetails(map[string]any{"path": rel})
		}
		if !mode.IsRegular() {
			return core.Invalid("Path is not a file: %s", rel)
		}
		out, err = r.readFile(ctx, id, rel, maxBytes)
		return err
	})
	return out, err
}

// readFile reads the regular file rel of the helper container id's locker.
// A file larger than maxBytes is validation_error.
func (r *Runtime) readFile(ctx context.Context, id, rel string, maxBytes int64) ([]byte, error) {
	rc, _, err := r.api().CopyFromContainer(ctx, id, path.Join(core.MountPath, rel))
	if err != nil {
		return nil, translate(ctx, err, "read "+rel)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return nil, core.Wrap(err, core.CodeInternal, "read archive of "+rel)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, core.Invalid("Path is not a file: %s", rel)
	}
	if hdr.Size > maxBytes {
		return nil, core.Invalid("File is larger than %d bytes: %s", maxBytes, rel).WithDetails(map[string]any{"limit_bytes": maxBytes})
	}
	out, err := io.ReadAll(io.LimitReader(tr, maxBytes+1))
	if err != nil {
		return nil, core.Wrap(err, core.CodeInternal, "read "+rel)
	}
	return out, nil
}

// WriteVolumeFile implements core.Runtime.
func (r *Runtime) WriteVolumeFile(ctx context.Context, lockerID, rel string, content []byte) error {
	return r.withVolume(ctx, lockerID, func(id string) error {
		exists, mode, err := r.checkNoLinks(ctx, id, rel)
		if err != nil {
			return err
		}
		if exists && !mode.IsRegular() {
			return core.Invalid("Path is not a file: %s", rel)
		}
		// The archive API removes the old file before writing the new one,
		// so a write that runs out of space (a size-limited locker) would
		// lose both: keep the old content to put it back.
		var old []byte
		if exists {
			if old, err = r.readFile(ctx, id, rel, keepForRestore); core.CodeOf(err) == core.CodeValidation {
				old = nil // too large to hold: a failed write loses it, as before
			} else if err != nil {
				return err
			}
		}
		// Parents that do not exist yet are created owned by the sandbox
		// user, as Ship would create them.
		var missing []string
		dir := path.Dir(rel)
		for dir != "." {
			ok, dmode, err := r.checkNoLinks(ctx, id, dir)
			if err != nil {
				return err
			}
			if ok {
				if !dmode.IsDir() {
					return core.Invalid("Path component is not a directory: %s", dir)
				}
				break
			}
			missing = append([]string{dir}, missing...)
			dir = path.Dir(dir)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		now := time.Now()
		for _, d := range missing {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755,
				Uid: sandboxUID, Gid: sandboxUID, ModTime: now}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: int64(len(content)),
			Uid: sandboxUID, Gid: sandboxUID, ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(content); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		err = r.api().CopyToContainer(ctx, id, core.MountPath, &buf, container.CopyToContainerOptions{})
		if err == nil {
			return nil
		}
		if old != nil {
			if rerr := r.putFile(ctx, id, rel, old, now); rerr != nil {
				r.log.WarnContext(ctx, "restore a file after a failed write", "locker_id", lockerID, "path", rel, "err", rerr)
			}
		}
		// The daemon reports a full file system only in its message.
		if strings.Contains(err.Error(), "no space left on device") {
			return (&core.Error{Code: core.CodePayloadTooLarge, Message: fmt.Sprintf("Locker %s has no room for %d bytes at %s", lockerID, len(content), rel), Err: err}).
				WithDetails(r.lockerLimit(ctx, lockerID))
		}
		return translate(ctx, err, fmt.Sprintf("write %s", rel))
	})
}

// keepForRestore bounds the old content a direct write holds to put back.
const keepForRestore = 64 << 20

// putFile writes content at rel, keeping the existing parents.
func (r *Runtime) putFile(ctx context.Context, id, rel string, content []byte, at time.Time) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: int64(len(content)),
		Uid: sandboxUID, Gid: sandboxUID, ModTime: at}); err != nil {
		return err
	}
	if _, err := tw.Write(content); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return r.api().CopyToContainer(ctx, id, core.MountPath, &buf, container.CopyToContainerOptions{})
}

// lockerLimit returns the details of a full locker: its limit in bytes when
// it has one.
func (r *Runtime) lockerLimit(ctx context.Context, lockerID string) map[string]any {
	v, err := r.api().VolumeInspect(ctx, core.VolumeName(lockerID))
	if err != nil {
		return nil
	}
	mb, err := strconv.ParseInt(v.Labels[LabelSizeLimit], 10, 64)
	if err != nil {
		return nil
	}
	return map[string]any{"limit_bytes": mb << 20}
}

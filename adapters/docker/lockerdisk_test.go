package docker_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/docker"
	"github.com/bayhq/bay/core"
)

// fillScript writes a 16 MiB file, then a second one until the write
// fails, checks that the first is intact, deletes the second and writes 32
// MiB again. It prints what it saw as JSON.
const fillScript = `
import errno, hashlib, json, os
W = "/workspace"
out = {}
st = os.statvfs(W)
out["size"] = st.f_blocks * st.f_frsize
out["avail"] = st.f_bavail * st.f_frsize
keep = os.urandom(16 << 20)
with open(W + "/keep", "wb") as f:
    f.write(keep); f.flush(); os.fsync(f.fileno())
out["keep_sha"] = hashlib.sha256(keep).hexdigest()
n, err = 0, None
buf = b"x" * (1 << 20)
fd = os.open(W + "/fill", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    while n < (2 << 30):
        n += os.write(fd, buf)
    os.fsync(fd)
except OSError as e:
    err = errno.errorcode[e.errno]
try:
    os.close(fd)
except OSError:
    pass
out["fill_bytes"], out["fill_err"] = n, err
with open(W + "/keep", "rb") as f:
    out["keep_after"] = hashlib.sha256(f.read()).hexdigest()
os.remove(W + "/fill")
with open(W + "/again", "wb") as f:
    f.write(b"y" * (32 << 20)); f.flush(); os.fsync(f.fileno())
out["again"] = os.path.getsize(W + "/again")
print(json.dumps(out))
`

// fillResult is what fillScript prints.
type fillResult struct {
	Size      int64  `json:"size"`
	Avail     int64  `json:"avail"`
	KeepSHA   string `json:"keep_sha"`
	FillBytes int64  `json:"fill_bytes"`
	FillErr   string `json:"fill_err"`
	KeepAfter string `json:"keep_after"`
	Again     int64  `json:"again"`
}

// limitedLocker creates a locker volume of mb MiB, deleted when t ends
// (before setup's sweep, which would remove the disk volume while mounted).
func limitedLocker(t *testing.T, rt *docker.Runtime, b *testBundle, mb int64) string {
	t.Helper()
	lockerID := core.RandomIDs{}.New(core.LockerIDPrefix)
	require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID, Owner: "docker-test", SizeLimitMB: mb}))
	t.Cleanup(func() {
		require.NoError(t, rt.DeleteVolume(context.WithoutCancel(b.ctx), lockerID))
	})
	return lockerID
}

// runIn runs cmd in a container of the guard image (Ship's: python3,
// coreutils) as uid 1000 with the locker at /workspace, and returns its
// exit code and output. A container that cannot be created or started is
// an error.
func runIn(t testing.TB, b *testBundle, lockerID string, cmd ...string) (int64, string, error) {
	t.Helper()
	cfg := &container.Config{
		Image: guardImage, User: "1000:1000", Entrypoint: cmd,
		Labels: map[string]string{testLabel: b.label},
	}
	hostCfg := &container.HostConfig{
		NetworkMode: "none",
		Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: core.VolumeName(lockerID), Target: core.MountPath}},
	}
	// Docker mounts the volume on create already, to copy the image's
	// content of the mount path into an empty volume.
	c, err := testCli.ContainerCreate(b.ctx, cfg, hostCfg, &network.NetworkingConfig{}, nil, "")
	if err != nil {
		return 0, "", err
	}
	defer func() {
		_ = testCli.ContainerRemove(context.WithoutCancel(b.ctx), c.ID, container.RemoveOptions{Force: true})
	}()
	if err := testCli.ContainerStart(b.ctx, c.ID, container.StartOptions{}); err != nil {
		return 0, "", err
	}
	waitC, errC := testCli.ContainerWait(b.ctx, c.ID, container.WaitConditionNotRunning)
	var code int64
	select {
	case w := <-waitC:
		code = w.StatusCode
	case err := <-errC:
		require.NoError(t, err)
	}
	rc, err := testCli.ContainerLogs(b.ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	defer rc.Close()
	var out, errOut bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &errOut, rc)
	require.NoError(t, err)
	return code, out.String() + errOut.String(), nil
}

func TestRuntime_LockerSizeLimit(t *testing.T) {
	t.Parallel()

	t.Run("WritePastTheLimitIsENOSPC", func(t *testing.T) {
		t.Parallel()
		rt, b := setup(t, hostPortOptions())
		const mb = 64
		lockerID := limitedLocker(t, rt, b, mb)
		require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID, SizeLimitMB: mb}), "an existing volume is reused")

		code, out, err := runIn(t, b, lockerID, "python3", "-c", fillScript)
		require.NoError(t, err)
		require.Zero(t, code, out)
		var res fillResult
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		t.Logf("%+v", res)
		require.Equal(t, "ENOSPC", res.FillErr, "a write past the limit fails with ENOSPC")
		written := res.FillBytes + 16<<20
		require.GreaterOrEqual(t, written, int64(mb-1)<<20, "the limit is usable, less a little for directories")
		require.LessOrEqual(t, written, int64(mb+4)<<20, "and not much more")
		require.Equal(t, res.KeepSHA, res.KeepAfter, "what was written before survives")
		require.EqualValues(t, 32<<20, res.Again, "deleting a file frees its space")
		require.GreaterOrEqual(t, res.Avail, int64(mb)<<20, "df shows the limit as free on an empty locker")

		// The file API writes through Docker's archive API into the same
		// file system, so it meets the same limit.
		err = rt.WriteVolumeFile(b.ctx, lockerID, "big.bin", bytes.Repeat([]byte("z"), 32<<20))
		require.Error(t, err)
		require.Contains(t, err.Error(), "no space left on device")
		got, err := rt.ReadVolumeFile(b.ctx, lockerID, "keep", 32<<20)
		require.NoError(t, err)
		sum := sha256.Sum256(got)
		require.Equal(t, res.KeepSHA, hex.EncodeToString(sum[:]), "a failed file API write damages nothing else")
		require.NoError(t, rt.WriteVolumeFile(b.ctx, lockerID, "small.txt", []byte("fits")))
	})

	t.Run("SandboxContainerUsesIt", func(t *testing.T) {
		t.Parallel()
		rt, b := setup(t, hostPortOptions())
		s := spec(b.image)
		s.LockerID = limitedLocker(t, rt, b, 16)
		id, err := rt.CreateContainer(b.ctx, s)
		require.NoError(t, err)
		ep, err := rt.StartContainer(b.ctx, id, fakeRuntimePort)
		require.NoError(t, err)
		meta := fetchMeta(t, b.ctx, ep, s.RuntimeToken)
		require.Equal(t, true, meta["workspace_writable"])
		requireCode(t, core.CodeConflict, rt.DeleteVolume(b.ctx, s.LockerID))

		// A second container (another sandbox on the same external
		// locker) sees the same file system while the first runs.
		require.NoError(t, rt.WriteVolumeFile(b.ctx, s.LockerID, "shared.txt", []byte("hello")))
		code, out, err := runIn(t, b, s.LockerID, "sh", "-c", "cat /workspace/shared.txt; df -m /workspace | tail -1")
		require.NoError(t, err)
		require.Zero(t, code, out)
		require.True(t, strings.HasPrefix(out, "hello"), out)
		require.Contains(t, out, "/dev/loop", "the locker is its own file system")
		require.NoError(t, rt.RemoveContainer(b.ctx, id))
	})

	t.Run("AfterARebootNothingStartsUntilRestored", func(t *testing.T) {
		t.Parallel()
		rt, b := setup(t, hostPortOptions())
		lockerID := limitedLocker(t, rt, b, 16)
		require.NoError(t, rt.WriteVolumeFile(b.ctx, lockerID, "notes.txt", []byte("persisted")))

		require.NoError(t, rt.DetachDisk(b.ctx, lockerID))
		_, _, err := runIn(t, b, lockerID, "true")
		require.Error(t, err, "without its file system the locker does not mount, rather than write to the host's disk")
		require.Contains(t, err.Error(), "no such file or directory")

		n, err := rt.RestoreVolumes(b.ctx)
		require.NoError(t, err)
		require.Positive(t, n)
		code, out, err := runIn(t, b, lockerID, "cat", "/workspace/notes.txt")
		require.NoError(t, err)
		require.Zero(t, code, out)
		require.Equal(t, "persisted", out)

		require.NoError(t, rt.DetachDisk(b.ctx, lockerID))
		require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID, SizeLimitMB: 16}), "a create mounts it again too")
		code, out, err = runIn(t, b, lockerID, "cat", "/workspace/notes.txt")
		require.NoError(t, err)
		require.Equal(t, "persisted", out, "exit %d", code)
	})

	t.Run("DeleteRemovesEverything", func(t *testing.T) {
		t.Parallel()
		rt, b := setup(t, hostPortOptions())
		lockerID := core.RandomIDs{}.New(core.LockerIDPrefix)
		require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID, SizeLimitMB: 8}))
		v, err := testCli.VolumeInspect(b.ctx, core.VolumeName(lockerID))
		require.NoError(t, err)
		require.Equal(t, "8", v.Labels[docker.LabelSizeLimit])
		require.NoError(t, rt.DeleteVolume(b.ctx, lockerID))
		require.NoError(t, rt.DeleteVolume(b.ctx, lockerID), "a missing volume is not an error")
		for _, name := range []string{core.VolumeName(lockerID), docker.DiskVolumeName(lockerID)} {
			_, err := testCli.VolumeInspect(b.ctx, name)
			require.True(t, cerrdefs.IsNotFound(err), "%s: %v", name, err)
		}
		// A RestoreVolumes of a test running beside this one attaches
		// every size-limited volume of the daemon, this one too: its helper
		// may still be on its way out.
		require.Eventually(t, func() bool {
			helpers, err := testCli.ContainerList(b.ctx, container.ListOptions{All: true,
				Filters: filters.NewArgs(filters.Arg("label", docker.LabelLockerDisk+"="+lockerID))})
			require.NoError(t, err)
			return len(helpers) == 0
		}, 30*time.Second, 50*time.Millisecond, "no helper is left behind")
	})

	t.Run("WithoutALimitAVolumeStaysPlain", func(t *testing.T) {
		t.Parallel()
		rt, b := setup(t, hostPortOptions())
		lockerID := core.RandomIDs{}.New(core.LockerIDPrefix)
		require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID}))
		require.NoError(t, rt.CreateVolume(b.ctx, core.VolumeSpec{LockerID: lockerID, SizeLimitMB: 8}),
			"an existing volume without a limit is reused as it is")
		v, err := testCli.VolumeInspect(b.ctx, core.VolumeName(lockerID))
		require.NoError(t, err)
		require.Empty(t, v.Options)
		_, err = testCli.VolumeInspect(b.ctx, docker.DiskVolumeName(lockerID))
		require.True(t, cerrdefs.IsNotFound(err), "no disk volume: %v", err)
		require.NoError(t, rt.DeleteVolume(b.ctx, lockerID))
	})
}

// requireCode asserts err's core code.
func requireCode(t *testing.T, want core.Code, err error) {
	t.Helper()
	require.Equal(t, want, core.CodeOf(err), "error: %v", err)
}

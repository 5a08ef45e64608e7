package docker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/docker"
	"github.com/bayhq/bay/core"
)

// benchSetup is setup for benchmarks: a Runtime whose objects carry a
// label unique to the benchmark and are removed when it ends.
func benchSetup(b *testing.B) (*docker.Runtime, *testBundle) {
	b.Helper()
	if testCli == nil {
		b.Skipf("skipping Docker benchmark: %s", noDocker)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	b.Cleanup(cancel)
	if _, err := testCli.ImageInspect(ctx, guardImage); err != nil {
		b.Skipf("skipping Docker benchmark: the guard image %s is missing (images/build.sh ship builds it)", guardImage)
	}
	label := core.RandomIDs{}.New("b-")
	rt, err := docker.Open(docker.Options{
		Host: os.Getenv("DOCKER_HOST"), Labels: map[string]string{testLabel: label},
		HelperImage: guardImage, GuardImage: guardImage,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(b, err)
	b.Cleanup(func() { _ = rt.Close() })
	return rt, &testBundle{ctx: ctx, image: guardImage, label: label}
}

// BenchmarkLockerVolume measures CreateVolume plus DeleteVolume of an
// unused locker, plain and with a size limit.
func BenchmarkLockerVolume(b *testing.B) {
	for _, mb := range []int64{0, 1024, 65536} {
		b.Run("SizeLimitMB="+strconv.FormatInt(mb, 10), func(b *testing.B) {
			rt, bb := benchSetup(b)
			var create, del time.Duration
			for b.Loop() {
				id := core.RandomIDs{}.New(core.LockerIDPrefix)
				t0 := time.Now()
				if err := rt.CreateVolume(bb.ctx, core.VolumeSpec{LockerID: id, Owner: "bench", SizeLimitMB: mb}); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := rt.DeleteVolume(bb.ctx, id); err != nil {
					b.Fatal(err)
				}
				create, del = create+t1.Sub(t0), del+time.Since(t1)
			}
			b.ReportMetric(float64(create.Milliseconds())/float64(b.N), "create_ms")
			b.ReportMetric(float64(del.Milliseconds())/float64(b.N), "delete_ms")
		})
	}
}

// ioScript times, inside the container, a sequential write of 512 MiB in 1
// MiB chunks followed by fsync, reading it back (from the page cache), and
// creating 5000 files of 4 KiB followed by a sync.
const ioScript = `
import json, os, time
W = "/workspace"
buf = os.urandom(1 << 20)
t = time.perf_counter()
fd = os.open(W + "/seq", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for _ in range(512):
    os.write(fd, buf)
os.fsync(fd); os.close(fd)
seq = time.perf_counter() - t
t = time.perf_counter()
with open(W + "/seq", "rb") as f:
    while f.read(1 << 20):
        pass
rd = time.perf_counter() - t
os.mkdir(W + "/small")
small = b"s" * 4096
t = time.perf_counter()
for i in range(5000):
    with open(W + "/small/%d" % i, "wb") as f:
        f.write(small)
os.sync()
files = time.perf_counter() - t
print(json.dumps({"seq_s": seq, "read_s": rd, "files_s": files}))
`

// BenchmarkLockerIO runs ioScript on a fresh locker, plain and limited,
// and reports the write rate, the (cached) read rate and files created per
// second. Each iteration includes a container start; only the in-container
// timings go into the metrics.
func BenchmarkLockerIO(b *testing.B) {
	for _, mb := range []int64{0, 1024} {
		b.Run("SizeLimitMB="+strconv.FormatInt(mb, 10), func(b *testing.B) {
			rt, bb := benchSetup(b)
			var seq, rd, files float64
			for b.Loop() {
				id := core.RandomIDs{}.New(core.LockerIDPrefix)
				require.NoError(b, rt.CreateVolume(bb.ctx, core.VolumeSpec{LockerID: id, Owner: "bench", SizeLimitMB: mb}))
				code, out, err := runIn(b, bb, id, "python3", "-c", ioScript)
				require.NoError(b, err)
				require.Zero(b, code, out)
				var res struct {
					Seq   float64 `json:"seq_s"`
					Read  float64 `json:"read_s"`
					Files float64 `json:"files_s"`
				}
				require.NoError(b, json.Unmarshal([]byte(out), &res), out)
				seq += res.Seq
				rd += res.Read
				files += res.Files
				require.NoError(b, rt.DeleteVolume(bb.ctx, id))
			}
			n := float64(b.N)
			b.ReportMetric(512/(seq/n), "write_MiB/s")
			b.ReportMetric(512/(rd/n), "read_MiB/s")
			b.ReportMetric(5000/(files/n), "files/s")
		})
	}
}

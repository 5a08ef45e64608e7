package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
)

// fakeRuntimePort is where the fake runtime listens.
const fakeRuntimePort = 8123

// fakeRuntimeDockerfile packs the static binary alone: scratch has no shell,
// no /tmp and no /etc/passwd, and the program needs none of them.
const fakeRuntimeDockerfile = `FROM scratch
COPY fakeruntime /fakeruntime
EXPOSE 8123
ENTRYPOINT ["/fakeruntime"]
`

var (
	imageOnce sync.Once
	imageRef  string
	imageErr  error
)

// fakeRuntimeImage returns the tag of the test runtime image, building it
// once per machine: the tag carries a hash of the source and the
// Dockerfile, so an existing image of that tag is current.
func fakeRuntimeImage(ctx context.Context, cli *client.Client) (string, error) {
	imageOnce.Do(func() { imageRef, imageErr = buildFakeRuntime(ctx, cli) })
	return imageRef, imageErr
}

func buildFakeRuntime(ctx context.Context, cli *client.Client) (string, error) {
	src, err := os.ReadFile(filepath.Join("testdata", "fakeruntime", "main.go"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(src, fakeRuntimeDockerfile...))
	ref := "bay-test-fakeruntime:" + hex.EncodeToString(sum[:])[:16]
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}

	dir, err := os.MkdirTemp("", "bay-fakeruntime-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "fakeruntime")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/fakeruntime")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build fakeruntime: %w\n%s", err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(fakeRuntimeDockerfile)},
		{"fakeruntime", 0o755, binData},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}

	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{"bay.test.image": "fakeruntime"},
	})
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", ref, err)
	}
	defer resp.Body.Close()
	// The build reports failures inside its JSON progress stream, not in
	// the HTTP status.
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("build image %s: read progress: %w", ref, err)
		}
		if msg.Error != "" {
			return "", fmt.Errorf("build image %s: %s", ref, msg.Error)
		}
	}
	return ref, nil
}

package containertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// label marks every container and volume these tests create, so a sweep
// (docker rm -f $(docker ps -aq --filter label=...)) can remove leftovers.
const label = "bay.test=ship-containertest"

func docker(ctx context.Context, args ...string) (string, error) {
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if err != nil {
		return strings.TrimSpace(out.String()), &dockerError{args: args, stderr: stderr.String(), err: err}
	}
	return strings.TrimSpace(out.String()), nil
}

type dockerError struct {
	args   []string
	stderr string
	err    error
}

func (e *dockerError) Error() string {
	return "docker " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + e.stderr
}

// requireImage skips unless Docker answers and image exists.
func requireImage(t *testing.T, image string) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		skipf(t, "docker CLI not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		skipf(t, "Docker daemon not reachable: %v", err)
	}
	if _, err := docker(ctx, "image", "inspect", image); err != nil {
		skipf(t, "image %s not found; build it with images/build.sh", image)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomSuffix() string { return randomHex(4) }

// ship is one running container.
type ship struct {
	id     string
	volume string
	url    string
	token  string // BAY_RUNTIME_TOKEN given to the container
}

// start runs image with a fresh named volume (or the given one) at
// /workspace, a random loopback port and a random BAY_RUNTIME_TOKEN (32
// bytes, hex, as Bay makes them), and waits for /health.
func start(t *testing.T, image, volume string, dockerArgs ...string) *ship {
	t.Helper()
	requireImage(t, image)
	ctx := context.Background()
	if volume == "" {
		volume = "ship-ct-" + randomSuffix()
		_, err := docker(ctx, "volume", "create", "--label", label, volume)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = docker(context.Background(), "volume", "rm", "-f", volume) })
	}
	token := randomHex(32)
	args := append([]string{"run", "-d", "--label", label, "-p", "127.0.0.1::8123",
		"-v", volume + ":/workspace", "--memory", "1g", "--pids-limit", "256",
		"-e", "BAY_RUNTIME_TOKEN=" + token}, dockerArgs...)
	id, err := docker(ctx, append(args, image)...)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = docker(context.Background(), "rm", "-f", id) })
	port, err := docker(ctx, "port", id, "8123/tcp")
	require.NoError(t, err)
	hostPort := strings.Split(strings.Split(port, "\n")[0], ":")
	s := &ship{id: id, volume: volume, url: "http://127.0.0.1:" + hostPort[len(hostPort)-1], token: token}
	// /health is the one route open without the token.
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 60*time.Second, 20*time.Millisecond, "ship /health never answered")
	return s
}

// stop removes the container (the volume stays).
func (s *ship) stop(t *testing.T) {
	t.Helper()
	_, err := docker(context.Background(), "rm", "-f", s.id)
	require.NoError(t, err)
}

var client = &http.Client{Timeout: 5 * time.Minute}

// authHeader is what Bay sends on every call but /health.
func (s *ship) authHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + s.token}}
}

// do sends req with the runtime token.
func (s *ship) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := client.Do(req)
	require.NoError(t, err)
	return resp
}

func (s *ship) get(t *testing.T, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	require.NoError(t, err)
	return s.do(t, req)
}

func (s *ship) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp := s.do(t, req)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return resp.StatusCode, out
}

func (s *ship) sh(t *testing.T, command string) map[string]any {
	t.Helper()
	code, out := s.post(t, "/shell/exec", map[string]any{"command": command, "timeout": 60})
	require.Equal(t, 200, code, out)
	return out
}

func (s *ship) py(t *testing.T, code string, timeout int) map[string]any {
	t.Helper()
	status, out := s.post(t, "/ipython/exec", map[string]any{"code": code, "timeout": timeout})
	require.Equal(t, 200, status, out)
	return out
}

func text(out map[string]any) string {
	return out["output"].(map[string]any)["text"].(string)
}

// shipStatus reads a field of /proc/<pid>/status of the ship process.
func (s *ship) shipStatus(t *testing.T, field string) string {
	t.Helper()
	out, err := docker(context.Background(), "exec", s.id, "sh", "-c",
		"grep '^"+field+":' /proc/$(pgrep -xo ship)/status")
	require.NoError(t, err)
	return strings.TrimSpace(strings.TrimPrefix(out, field+":"))
}

package containertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/internal/testenv"
)

// image is the image under test.
const image = "bay-browser:latest"

// label marks every container and volume these tests create.
const label = "bay.test=browser-containertest"

func docker(ctx context.Context, args ...string) (string, error) {
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
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

// requireImage skips unless Docker answers and the image exists.
func requireImage(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Skipf(t, "docker CLI not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		testenv.Skipf(t, "Docker daemon not reachable: %v", err)
	}
	if _, err := docker(ctx, "image", "inspect", image); err != nil {
		testenv.Skipf(t, "image %s not found; build it with images/build.sh browser", image)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seccompProfile is the repository's profile for browser containers.
func seccompProfile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "images", "browser", "seccomp.json")
}

// hardened are the options Bay gives a browser container (browser.md §6),
// but the seccomp profile.
var hardened = []string{
	"--user", "1000:1000", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
	"--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=512m", "--shm-size", "256m",
	"--memory", "1g", "--cpus", "1", "--pids-limit", "1024",
}

// container is one running browser container.
type container struct {
	id     string
	volume string
	url    string
	token  string
}

// newVolume creates a labelled volume removed at the end of the test.
func newVolume(t *testing.T) string {
	t.Helper()
	v := "browser-ct-" + randomHex(4)
	_, err := docker(context.Background(), "volume", "create", "--label", label, v)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = docker(context.Background(), "volume", "rm", "-f", v) })
	return v
}

// run starts the image with Bay's options, the seccomp profile unless
// seccomp is false, a fresh volume unless one is given, and a random
// token; it does not wait for readiness.
func run(t *testing.T, volume string, seccomp bool, extra ...string) *container {
	t.Helper()
	requireImage(t)
	if volume == "" {
		volume = newVolume(t)
	}
	token := randomHex(32)
	args := []string{"run", "-d", "--label", label, "-p", "127.0.0.1::8124", "-v", volume + ":/workspace", "-e", "BAY_RUNTIME_TOKEN=" + token}
	args = append(args, hardened...)
	if seccomp {
		args = append(args, "--security-opt", "seccomp="+seccompProfile())
	}
	args = append(append(args, extra...), image)
	id, err := docker(context.Background(), args...)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = docker(context.Background(), "rm", "-f", id) })
	port, err := docker(context.Background(), "port", id, "8124/tcp")
	require.NoError(t, err)
	hp := strings.Split(strings.Split(port, "\n")[0], ":")
	return &container{id: id, volume: volume, url: "http://127.0.0.1:" + hp[len(hp)-1], token: token}
}

// health returns /health's status code and body.
func (c *container) health() (int, map[string]any) {
	resp, err := http.Get(c.url + "/health")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// waitReady waits for /health 200.
func (c *container) waitReady(t *testing.T) map[string]any {
	t.Helper()
	var body map[string]any
	require.Eventually(t, func() bool {
		var code int
		code, body = c.health()
		return code == http.StatusOK
	}, 60*time.Second, 20*time.Millisecond, "browserd /health never answered 200: %v", body)
	return body
}

// exec runs one command; it returns the decoded answer.
func (c *container) exec(t *testing.T, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url+"/exec", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// okExec wants success.
func (c *container) okExec(t *testing.T, body string) map[string]any {
	t.Helper()
	out := c.exec(t, body)
	require.Equal(t, true, out["success"], "%s: %v", body, out["error"])
	return out
}

// bridgeGateway is the host's address on Docker's default bridge: the
// IPAM gateway when the daemon reports one, else docker0's IPv4 address.
func bridgeGateway() string {
	if gw, err := docker(context.Background(), "network", "inspect", "bridge", "--format",
		"{{range .IPAM.Config}}{{.Gateway}}{{end}}"); err == nil && gw != "" {
		return gw
	}
	name, err := docker(context.Background(), "network", "inspect", "bridge", "--format",
		`{{index .Options "com.docker.network.bridge.name"}}`)
	if err != nil || name == "" {
		name = "docker0"
	}
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, _ := iface.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// hostURL serves h on all interfaces and returns its URL as a container
// on the default bridge reaches it (the bridge's gateway).
func hostURL(t *testing.T, h http.Handler) string {
	t.Helper()
	gw := bridgeGateway()
	if gw == "" {
		testenv.Skipf(t, "no address for Docker's default bridge (docker0)")
	}
	ln, err := net.Listen("tcp", gw+":0")
	if err != nil {
		testenv.Skipf(t, "cannot listen on the bridge's gateway %s: %v", gw, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

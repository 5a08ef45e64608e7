package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

// The sealed-sandbox tests attack from inside real Ship containers: every
// path from one sandbox to another, to the host and to blocked ranges must
// fail, while what a profile allows keeps working and both sandboxes keep
// working through Bay.

// extHost is a stand-in for the world outside the Docker host: a network
// namespace behind a veth pair, routed from the host, with listeners on an
// ordinary address (Public), on a private address (Private, in RFC 1918)
// and on the cloud metadata address. Sandboxes reach it as they would the
// internet, through Docker's masquerading.
type extHost struct {
	Public, Private, Metadata string // host:port of HTTP listeners that answer 200
	PublicOtherPort           string // a second listener on Public's address
	HostSide                  string // the host's own address on the veth
}

// newExtHost builds the namespace, or skips (fails under strict) when the
// machine cannot: it needs root and iproute2.
func newExtHost(t *testing.T) *extHost {
	t.Helper()
	_, err := exec.LookPath("ip")
	need(t, err == nil && os.Geteuid() == 0, "the isolation tests need root and iproute2 (ip) to build an outside host")
	id := fmt.Sprintf("%04x", rand.IntN(1<<16))
	ns, hostIf, nsIf := "bayext-"+id, "bxh"+id, "bxn"+id
	octet := 1 + rand.IntN(250)
	hostSide, public := fmt.Sprintf("198.18.%d.1", octet), fmt.Sprintf("198.18.%d.2", octet)
	private, metadata := fmt.Sprintf("10.254.%d.2", octet), "169.254.169.254"
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "route", "del", private+"/32").Run()
		_ = exec.Command("ip", "route", "del", metadata+"/32", "via", public).Run()
		_ = exec.Command("ip", "link", "del", hostIf).Run()
		_ = exec.Command("ip", "netns", "del", ns).Run()
	})
	run("netns", "add", ns)
	run("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	run("link", "set", nsIf, "netns", ns)
	run("addr", "add", hostSide+"/24", "dev", hostIf)
	run("link", "set", hostIf, "up")
	for _, a := range []string{public + "/24", private + "/32", metadata + "/32"} {
		run("netns", "exec", ns, "ip", "addr", "add", a, "dev", nsIf)
	}
	run("netns", "exec", ns, "ip", "link", "set", "lo", "up")
	run("netns", "exec", ns, "ip", "link", "set", nsIf, "up")
	run("netns", "exec", ns, "ip", "route", "add", "default", "via", hostSide)
	run("route", "add", private+"/32", "via", public)
	run("route", "add", metadata+"/32", "via", public)

	lns := listenInNetns(t, "/var/run/netns/"+ns, public+":0", public+":0", private+":0", metadata+":0")
	return &extHost{
		Public: lns[0], PublicOtherPort: lns[1], Private: lns[2], Metadata: lns[3], HostSide: hostSide,
	}
}

// listenInNetns opens TCP listeners inside the network namespace at path
// and serves "ok" on each. The sockets belong to the namespace they were
// made in, whichever thread accepts on them later.
func listenInNetns(t *testing.T, path string, addrs ...string) []string {
	t.Helper()
	type result struct {
		lns []net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The thread is never unlocked: it ends with this goroutine, so no
		// other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		var r result
		for _, a := range addrs {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				r.err = err
				break
			}
			r.lns = append(r.lns, ln)
		}
		done <- r
	}()
	r := <-done
	require.NoError(t, r.err)
	out := make([]string, len(r.lns))
	for i, ln := range r.lns {
		out[i] = ln.Addr().String()
		srv := &http.Server{Handler: okHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	return out
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
}

// isolationProfiles are the profiles of the isolation tests.
func isolationProfiles(ext *extHost) string {
	return `[
 {"id":"python-default","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300},
 {"id":"net-none","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300,"network":"none"},
 {"id":"net-allowlist","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300,
  "network":{"mode":"allowlist","allow":["` + ext.Public + `","` + ext.Private + `","` + ext.Metadata + `"]}},
 {"id":"net-bay-api","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"idle_timeout":300,
  "network":{"mode":"open","allow_bay_api":true}}
]`
}

// probe is one connection attempt made from inside a sandbox.
type probe struct {
	name string
	url  string
	// attack posts a shell command to a runtime: if it ever got through,
	// it would leave /workspace/pwned in the victim's locker.
	attack bool
}

// outcome is what curl inside the sandbox reported: the HTTP status (000
// when no answer came) and curl's exit code.
type outcome struct {
	Status string
	Exit   int
}

func (o outcome) connected() bool { return o.Status != "000" }

// runProbes makes every probe from inside the sandbox in one shell call.
func runProbes(t *testing.T, b *bay, sandboxID string, probes []probe) map[string]outcome {
	t.Helper()
	var script strings.Builder
	for _, p := range probes {
		fmt.Fprintf(&script, "printf '%%s ' %s; ", p.name)
		args := "-s -o /dev/null --connect-timeout 3 -m 6 -w '%{http_code}'"
		if p.attack {
			args += ` -X POST -H 'Content-Type: application/json' -d '{"command":"echo pwned > /workspace/pwned"}'`
		}
		fmt.Fprintf(&script, "curl %s '%s'; echo \" $?\"; ", args, p.url)
	}
	res := shell(t, b, sandboxID, script.String(), nil)
	out := map[string]outcome{}
	sc := bufio.NewScanner(strings.NewReader(res.Output))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		code, err := strconv.Atoi(f[2])
		require.NoError(t, err, "line %q", sc.Text())
		out[f[0]] = outcome{Status: f[1], Exit: code}
	}
	for _, p := range probes {
		require.Contains(t, out, p.name, "probe output:\n%s", res.Output)
	}
	return out
}

// containerOf inspects the running container of a sandbox.
func containerOf(t *testing.T, sandboxID string) map[string]any {
	t.Helper()
	ids := containersOf(t, sandboxID)
	require.Len(t, ids, 1)
	out, err := exec.Command("docker", "inspect", ids[0]).Output()
	require.NoError(t, err)
	var infos []map[string]any
	require.NoError(t, json.Unmarshal(out, &infos))
	return infos[0]
}

// containerAddr returns the container's IP address and the gateway of its
// network.
func containerAddr(t *testing.T, info map[string]any) (ip, gateway string) {
	t.Helper()
	nets := info["NetworkSettings"].(map[string]any)["Networks"].(map[string]any)
	require.Len(t, nets, 1)
	for _, n := range nets {
		m := n.(map[string]any)
		return m["IPAddress"].(string), m["Gateway"].(string)
	}
	return "", ""
}

// publishedPort returns the host binding of the runtime port, if any.
func publishedPort(t *testing.T, info map[string]any) (hostIP, port string) {
	t.Helper()
	ports, _ := info["NetworkSettings"].(map[string]any)["Ports"].(map[string]any)
	bindings, _ := ports["8123/tcp"].([]any)
	if len(bindings) == 0 {
		return "", ""
	}
	b := bindings[0].(map[string]any)
	return b["HostIp"].(string), b["HostPort"].(string)
}

// hostIPv4s returns the host's own non-loopback IPv4 addresses.
func hostIPv4s(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			out = append(out, ipn.IP.String())
		}
	}
	return out
}

func TestE2E_SealedSandboxes(t *testing.T) {
	t.Parallel()
	requireImages(t, "ship:latest")
	ext := newExtHost(t)

	// A service on every host address, as a host's own daemons would be.
	hostLn, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	hostSrv := &http.Server{Handler: okHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hostSrv.Serve(hostLn) }()
	t.Cleanup(func() { _ = hostSrv.Close() })
	hostPort := strconv.Itoa(hostLn.Addr().(*net.TCPAddr).Port)

	for _, engine := range engines(t) {
		for _, mode := range []string{"host_port", "container_network"} {
			t.Run(engine+"/"+mode, func(t *testing.T) {
				t.Parallel()
				// Bay listens on every address, as a deployment that serves
				// other machines does: sandboxes must still not reach it.
				b := startBay(t, bayOpts{engine: engine, listen: "0.0.0.0", env: []string{
					"BAY_DRIVER__DOCKER__CONNECT_MODE=" + mode,
					"BAY_PROFILES=" + isolationProfiles(ext),
				}})
				sealedSandboxes(t, b, ext, hostPort, b.Port, mode)
			})
		}
	}
}

func sealedSandboxes(t *testing.T, b *bay, ext *extHost, hostPort string, bayPort int, mode string) {
	alice := createSandbox(t, b, oapigen.CreateSandboxRequest{})
	bob := createSandbox(t, b, oapigen.CreateSandboxRequest{})
	shell(t, b, bob.Id, "echo bob-secret > /workspace/secret.txt", nil)
	shell(t, b, alice.Id, "true", nil)

	bobInfo := containerOf(t, bob.Id)
	bobIP, _ := containerAddr(t, bobInfo)
	_, gateway := containerAddr(t, containerOf(t, alice.Id))
	bindIP, bobHostPort := publishedPort(t, bobInfo)
	if mode == "host_port" {
		require.Equal(t, "127.0.0.1", bindIP, "the runtime port is published on loopback only")
		require.NotEmpty(t, bobHostPort)
	} else {
		require.Empty(t, bobHostPort, "container_network publishes no port")
	}

	// Every way from alice's sandbox to bob's runtime, to the host and to
	// the blocked ranges.
	probes := []probe{
		{name: "bob-ip-runtime", url: "http://" + bobIP + ":8123/shell/exec", attack: true},
		{name: "bob-ip-health", url: "http://" + bobIP + ":8123/health"},
		{name: "gateway-host-service", url: "http://" + gateway + ":" + hostPort + "/"},
		{name: "gateway-bay-api", url: fmt.Sprintf("http://%s:%d/health", gateway, bayPort)},
		{name: "blocked-private", url: "http://" + ext.Private + "/"},
		{name: "blocked-metadata", url: "http://" + ext.Metadata + "/latest/meta-data/"},
	}
	for i, ip := range hostIPv4s(t) {
		probes = append(probes,
			probe{name: fmt.Sprintf("host%d-service", i), url: "http://" + ip + ":" + hostPort + "/"},
			probe{name: fmt.Sprintf("host%d-bay-api", i), url: fmt.Sprintf("http://%s:%d/health", ip, bayPort)})
		if bobHostPort != "" {
			probes = append(probes, probe{name: fmt.Sprintf("host%d-bob-published", i),
				url: "http://" + ip + ":" + bobHostPort + "/shell/exec", attack: true})
		}
	}
	if bobHostPort != "" {
		probes = append(probes,
			probe{name: "gateway-bob-published", url: "http://" + gateway + ":" + bobHostPort + "/shell/exec", attack: true},
			probe{name: "loopback-bob-published", url: "http://127.0.0.1:" + bobHostPort + "/shell/exec", attack: true})
	}
	// The control: the outside world stays reachable from an open sandbox,
	// so the failures above are the seal, not a broken network.
	probes = append(probes, probe{name: "outside", url: "http://" + ext.Public + "/"})

	got := runProbes(t, b, alice.Id, probes)
	for _, p := range probes {
		o := got[p.name]
		if p.name == "outside" {
			require.Equal(t, outcome{"200", 0}, o, "an open sandbox reaches the outside world")
			continue
		}
		require.False(t, o.connected(), "%s (%s) must be unreachable from another sandbox, got %+v", p.name, p.url, o)
		require.NotZero(t, o.Exit, p.name)
		t.Logf("%-24s %-55s blocked (curl exit %d)", p.name, p.url, o.Exit)
	}

	// Bob's files are untouched and both sandboxes still work through Bay.
	res := shell(t, b, bob.Id, "cat /workspace/secret.txt; ls -A /workspace", nil)
	require.Equal(t, "bob-secret\n.bashrc\nsecret.txt", res.Output)
	require.Equal(t, "4", python(t, b, alice.Id, "print(2+2)").Output)
	require.Equal(t, "4", python(t, b, bob.Id, "print(2+2)").Output)

	// The runtime refuses callers without the session's token, even on the
	// host itself.
	bobEndpoint := "http://" + bobIP + ":8123"
	if bobHostPort != "" {
		bobEndpoint = "http://127.0.0.1:" + bobHostPort
	}
	for _, token := range []string{"", "0000000000000000000000000000000000000000000000000000000000000000"} {
		req, err := http.NewRequest(http.MethodPost, bobEndpoint+"/shell/exec",
			strings.NewReader(`{"command":"echo pwned > /workspace/pwned"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "token %q", token)
	}
	res = shell(t, b, bob.Id, "ls -A /workspace", nil)
	require.Equal(t, ".bashrc\nsecret.txt", res.Output, "no attack left a file")

	// The token never reaches user code.
	res = shell(t, b, bob.Id, "env | grep -c BAY_RUNTIME_TOKEN; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c BAY_RUNTIME_TOKEN", nil)
	require.Equal(t, "0\n0", res.Output)

	egressModes(t, b, ext, gateway, bayPort)
}

// egressModes checks the profiles' network settings from inside sandboxes.
func egressModes(t *testing.T, b *bay, ext *extHost, gateway string, bayPort int) {
	outside := []probe{
		{name: "public", url: "http://" + ext.Public + "/"},
		{name: "public-other-port", url: "http://" + ext.PublicOtherPort + "/"},
		{name: "private", url: "http://" + ext.Private + "/"},
		{name: "metadata", url: "http://" + ext.Metadata + "/"},
		{name: "bay-api", url: fmt.Sprintf("http://%s:%d/health", gateway, bayPort)},
	}
	cases := []struct {
		profile   string
		reachable map[string]bool
	}{
		// none reaches nothing.
		{"net-none", map[string]bool{}},
		// allowlist reaches the listed address and port only; listing a
		// blocked address does not open it.
		{"net-allowlist", map[string]bool{"public": true}},
		// allow_bay_api opens Bay's API and nothing else of the host.
		{"net-bay-api", map[string]bool{"public": true, "public-other-port": true, "bay-api": true}},
	}
	for _, c := range cases {
		sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr(c.profile)})
		got := runProbes(t, b, sb.Id, outside)
		for _, p := range outside {
			require.Equal(t, c.reachable[p.name], got[p.name].connected(), "profile %s, %s: %+v", c.profile, p.name, got[p.name])
		}
		t.Logf("profile %-14s reaches %v", c.profile, c.reachable)
		if c.profile == "net-none" {
			res := shell(t, b, sb.Id, "getent hosts example.com >/dev/null; echo $?", nil)
			require.NotEqual(t, "0", res.Output, "a sandbox without network resolves no names")
		}
	}
}

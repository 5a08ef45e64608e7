package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	browserimage "github.com/bayhq/bay/images/browser"
)

// browserProfiles is Bay's browser-python profile: Ship owning the network,
// the browser runtime beside it (browser.md §1.1).
const browserProfiles = `[{"id":"browser-python","idle_timeout":300,"containers":[
 {"name":"ship","runtime_type":"ship","image":"ship:latest","port":8123,"capabilities":["filesystem","shell","python"]},
 {"name":"browser","runtime_type":"browser","image":%q,"port":8124,"capabilities":["browser"]}]}]`

// benchForm is the small form the interaction rows drive.
const benchForm = `<!doctype html><title>Sign up</title><h1>Sign up</h1>
<label>Name <input id="name"></label>
<label><input type="checkbox" id="agree"> Agree</label>
<label>Color <select id="color"><option>red</option><option>blue</option></select></label>
<button onclick="document.getElementById('out').textContent = 'hello ' + document.getElementById('name').value">Send</button>
<p id="out"></p>`

// browserBench prints browser.md §7's performance table: the browser image
// run directly, then cold sandboxes, interactions, screenshots, stop and
// idle memory through Bay with the browser-python profile.
func browserBench(args []string) error {
	fs := flag.NewFlagSet("browser", flag.ExitOnError)
	bin := fs.String("bin", "bin/bay", "the bay binary to measure")
	image := fs.String("image", "bay-browser:latest", "the browser image")
	runs := fs.Int("runs", 5, "docker runs, cold sandboxes and stops")
	n := fs.Int("n", 20, "navigate/snapshot/fill/click rounds")
	rt := fs.Int("rt", 200, "get url round trips")
	shots := fs.Int("shots", 10, "screenshots")
	_ = fs.Parse(args)

	fmt.Printf("Bay browser benchmark (%s, SQLite, %s + ship:latest)\n", *bin, *image)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	row := func(metric, measured, spike, target string) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", metric, measured, spike, target)
	}
	row("metric", "measured", "spike", "target")
	defer w.Flush()

	// 1. The image run directly, as Bay runs it (but on a bridge network).
	ready, stops, err := dockerRunReady(*image, *runs)
	if err != nil {
		return err
	}
	row(fmt.Sprintf("docker run → Chromium ready (n=%d)", len(ready)), p50p95(ready), "2.3–2.5 s", "p50 ≤ 3 s, p95 ≤ 5 s")

	b, err := launchBayWith(*bin, fmt.Sprintf(browserProfiles, *image))
	if err != nil {
		return err
	}
	defer b.stop()
	// Deleting a sandbox removes its Locker volume too; b.stop removes only
	// containers, so every sandbox is deleted again on the way out.
	var created []string
	defer func() {
		for _, id := range created {
			_ = postJSON(b, "DELETE /v1/sandboxes/"+id, nil, nil)
		}
	}()
	newSandbox := func() (string, error) {
		var sb struct {
			ID string `json:"id"`
		}
		err := postJSON(b, "/v1/sandboxes", map[string]any{"profile": "browser-python"}, &sb)
		created = append(created, sb.ID)
		return sb.ID, err
	}

	// 2. Cold sandboxes: create → first get url answered; then 2 s idle for
	// docker stats, then POST /stop, then delete.
	var cold, stopCalls, stopGone []time.Duration
	var mem []float64
	var pids []int
	for range *runs {
		start := time.Now()
		id, err := newSandbox()
		if err != nil {
			return err
		}
		if _, err := browserExec(b, id, map[string]any{"cmd": "get url"}); err != nil {
			return err
		}
		cold = append(cold, time.Since(start))

		time.Sleep(2 * time.Second)
		m, p, err := browserStats(id)
		if err != nil {
			return err
		}
		mem, pids = append(mem, m), append(pids, p)

		start = time.Now()
		if err := postJSON(b, "/v1/sandboxes/"+id+"/stop", nil, nil); err != nil {
			return err
		}
		stopCalls = append(stopCalls, time.Since(start))
		for len(containersOf(id)) > 0 && time.Since(start) < 30*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		stopGone = append(stopGone, time.Since(start))
		if err := postJSON(b, "DELETE /v1/sandboxes/"+id, nil, nil); err != nil {
			return err
		}
	}
	row(fmt.Sprintf("cold sandbox → first browser call answered (n=%d)", len(cold)), p50p95(cold), "—", "p50 ≤ 4 s")

	// 3. One sandbox for the interaction rows: Python serves the form.
	id, err := newSandbox()
	if err != nil {
		return err
	}
	if err := serveForm(b, id); err != nil {
		return err
	}
	url := "http://127.0.0.1:18080/form.html"
	var navs, snaps, fills, clicks []time.Duration
	for i := range *n {
		t, err := browserExec(b, id, map[string]any{"command": map[string]any{"action": "navigate", "url": url}})
		if err != nil {
			return err
		}
		if i == 0 {
			row("first navigate to a local page", fmtDur(t), "0.10–0.13 s", "≤ 0.5 s")
		}
		navs = append(navs, t)
		start := time.Now()
		snap, err := browserReply(b, id, map[string]any{"cmd": "snapshot -i"})
		if err != nil {
			return err
		}
		snaps = append(snaps, time.Since(start))
		nameRef, sendRef := refIn(snap, `textbox "Name"`), refIn(snap, `button "Send"`)
		if nameRef == "" || sendRef == "" {
			return fmt.Errorf("form refs not in snapshot:\n%s", snap)
		}
		t, err = browserExec(b, id, map[string]any{"command": map[string]any{"action": "fill", "ref": nameRef, "text": "Ada"}})
		if err != nil {
			return err
		}
		fills = append(fills, t)
		var two time.Duration
		for range 2 {
			t, err = browserExec(b, id, map[string]any{"command": map[string]any{"action": "click", "ref": sendRef}})
			if err != nil {
				return err
			}
			two += t
		}
		clicks = append(clicks, two)
	}
	row(fmt.Sprintf("navigate to the local page, warm (n=%d)", len(navs)), "p50 "+fmtDur(pct(navs, 50)), "0.10–0.13 s", "≤ 0.5 s")
	row(fmt.Sprintf("snapshot / fill / click×2 of a small form (n=%d)", len(snaps)),
		fmt.Sprintf("p50 %.1f / %.1f / %.1f ms", ms(pct(snaps, 50)), ms(pct(fills, 50)), ms(pct(clicks, 50))),
		"26 / 17 / 40 ms", "≤ 100 ms for ≤ 500 nodes")

	// 4. The round trip through Bay.
	var gets []time.Duration
	for range *rt {
		t, err := browserExec(b, id, map[string]any{"cmd": "get url"})
		if err != nil {
			return err
		}
		gets = append(gets, t)
	}
	row(fmt.Sprintf("Bay → get url round trip (n=%d)", len(gets)),
		fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", ms(pct(gets, 50)), ms(pct(gets, 99))),
		"0.6–1.0 ms (CDP evaluate 1+1)", "p50 ≤ 10 ms, p99 ≤ 50 ms")

	// 5. Screenshots into the workspace.
	if _, err := browserExec(b, id, map[string]any{"command": map[string]any{"action": "set_viewport", "width": 1280, "height": 800}}); err != nil {
		return err
	}
	var pngs []time.Duration
	for range *shots {
		t, err := browserExec(b, id, map[string]any{"command": map[string]any{"action": "screenshot", "path": "shots/x.png"}})
		if err != nil {
			return err
		}
		pngs = append(pngs, t)
	}
	size, err := python(b, id, "import struct\nprint(*struct.unpack('>II', open('shots/x.png', 'rb').read(24)[16:24]))")
	if err != nil {
		return err
	}
	if size != "1280 800" {
		return fmt.Errorf("screenshot is %s, not 1280 800", size)
	}
	row(fmt.Sprintf("screenshot 1280×800 PNG to a path (n=%d)", len(pngs)), "p50 "+fmtDur(pct(pngs, 50)), "0.10–0.13 s", "≤ 0.3 s")

	// 6. and 7., measured on the cold sandboxes above.
	row(fmt.Sprintf("stop: POST /stop, both containers removed (n=%d)", len(stopCalls)),
		fmt.Sprintf("p50 %s (gone from docker ps: p50 %s)", fmtDur(pct(stopCalls, 50)), fmtDur(pct(stopGone, 50))), "0.38 s", "≤ 2 s")
	row(fmt.Sprintf("stop: docker stop of the browser container (n=%d)", len(stops)), "p50 "+fmtDur(pct(stops, 50)), "0.38 s", "≤ 2 s")
	sort.Float64s(mem)
	sort.Ints(pids)
	row(fmt.Sprintf("idle memory / tasks after 2 s (n=%d)", len(mem)),
		fmt.Sprintf("%.1f–%.1f MiB / %d–%d", mem[0], mem[len(mem)-1], pids[0], pids[len(pids)-1]), "70–78 MiB / 61–68", "≤ 150 MiB")
	return nil
}

// dockerRunReady runs the image the way Bay does (browser.md §6) runs
// times, each time from `docker run` to a 200 on /health, then times
// `docker stop`; it removes its containers and volumes.
func dockerRunReady(image string, runs int) (ready, stops []time.Duration, err error) {
	label := "baybench.browser=" + strconv.FormatInt(time.Now().UnixNano(), 36)
	defer removeVolumes("label=" + label)
	defer removeContainers("label=" + label)
	seccomp := filepath.Join(os.TempDir(), "baybench-seccomp.json")
	if err := os.WriteFile(seccomp, []byte(browserimage.Seccomp), 0o600); err != nil {
		return nil, nil, err
	}
	defer os.Remove(seccomp)
	client := &http.Client{Timeout: time.Second}
	for range runs {
		vol, err := exec.Command("docker", "volume", "create", "--label", label).Output()
		if err != nil {
			return nil, nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		token := make([]byte, 16)
		_, _ = rand.Read(token)
		start := time.Now()
		out, err := exec.Command("docker", "run", "-d", "--label", label,
			"-p", fmt.Sprintf("127.0.0.1:%d:8124", port),
			"-v", strings.TrimSpace(string(vol))+":/workspace",
			"-e", "BAY_RUNTIME_TOKEN="+hex.EncodeToString(token),
			"--user", "1000:1000", "--cap-drop", "ALL",
			"--security-opt", "no-new-privileges", "--security-opt", "seccomp="+seccomp,
			"--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=512m",
			"--shm-size", "256m", "--pids-limit", "1024", image).Output()
		if err != nil {
			return nil, nil, fmt.Errorf("docker run: %w", err)
		}
		id := strings.TrimSpace(string(out))
		for {
			if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port)); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Since(start) > 60*time.Second {
				return nil, nil, fmt.Errorf("%s: not healthy after 60 s", image)
			}
			time.Sleep(10 * time.Millisecond)
		}
		ready = append(ready, time.Since(start))
		start = time.Now()
		if err := exec.Command("docker", "stop", id).Run(); err != nil {
			return nil, nil, err
		}
		stops = append(stops, time.Since(start))
	}
	return ready, stops, nil
}

// serveForm writes the form into the workspace and starts Python's
// http.server on it, detached from the exec.
func serveForm(b *benchBay, id string) error {
	base := "/v1/sandboxes/" + id
	if err := postJSON(b, "PUT "+base+"/filesystem/files", map[string]any{"path": "site/form.html", "content": benchForm}, nil); err != nil {
		return err
	}
	out, err := python(b, id, "import subprocess, time, urllib.request\n"+
		"subprocess.Popen(['python3', '-m', 'http.server', '18080', '--bind', '127.0.0.1', '--directory', 'site'],"+
		" start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"+
		"for _ in range(100):\n"+
		"    try:\n"+
		"        urllib.request.urlopen('http://127.0.0.1:18080/form.html'); break\n"+
		"    except Exception:\n"+
		"        time.sleep(0.1)\n"+
		"print('up')")
	if err != nil {
		return err
	}
	if out != "up" {
		return fmt.Errorf("page server did not start: %q", out)
	}
	return nil
}

// python runs code in the sandbox and returns its trimmed output.
func python(b *benchBay, id, code string) (string, error) {
	var res struct {
		Output string `json:"output"`
		Error  any    `json:"error"`
	}
	if err := postJSON(b, "/v1/sandboxes/"+id+"/python/exec", map[string]any{"timeout": 60, "code": code}, &res); err != nil {
		return "", err
	}
	if res.Error != nil {
		return "", fmt.Errorf("python: %v", res.Error)
	}
	return strings.TrimSpace(res.Output), nil
}

// browserExec sends one browser command and returns its round-trip time.
func browserExec(b *benchBay, id string, body map[string]any) (time.Duration, error) {
	start := time.Now()
	_, err := browserReply(b, id, body)
	return time.Since(start), err
}

// browserReply sends one browser command and returns its output; a failed
// command is an error.
func browserReply(b *benchBay, id string, body map[string]any) (string, error) {
	var res struct {
		Success   bool    `json:"success"`
		Output    string  `json:"output"`
		Error     *string `json:"error"`
		ErrorCode *string `json:"error_code"`
	}
	if err := postJSON(b, "/v1/sandboxes/"+id+"/browser/exec", body, &res); err != nil {
		return "", err
	}
	if !res.Success {
		return "", fmt.Errorf("browser %v: %s %s", body, deref(res.ErrorCode), deref(res.Error))
	}
	return res.Output, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// refIn finds the ref on the snapshot line containing line.
func refIn(snapshot, line string) string {
	for l := range strings.Lines(snapshot) {
		if strings.Contains(l, line) {
			_, rest, _ := strings.Cut(l, "[ref=")
			ref, _, _ := strings.Cut(rest, "]")
			return ref
		}
	}
	return ""
}

// browserStats reads the memory (MiB) and task count of a sandbox's browser
// container from docker stats.
func browserStats(sandboxID string) (float64, int, error) {
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=bay.sandbox_id="+sandboxID, "--filter", "label=bay.container=browser").Output()
	if err != nil {
		return 0, 0, err
	}
	id := strings.TrimSpace(string(out))
	if id == "" {
		return 0, 0, fmt.Errorf("no browser container for %s", sandboxID)
	}
	out, err = exec.Command("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", id).Output()
	if err != nil {
		return 0, 0, err
	}
	usage, tasks, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	used, _, _ := strings.Cut(usage, " /")
	pids, err := strconv.Atoi(tasks)
	if err != nil {
		return 0, 0, fmt.Errorf("docker stats: %q", out)
	}
	return mib(used), pids, nil
}

// mib converts docker's sizes ("70.5MiB", "1.2GiB", "900KiB") to MiB.
func mib(s string) float64 {
	for _, u := range []struct {
		suffix string
		mib    float64
	}{{"KiB", 1.0 / 1024}, {"MiB", 1}, {"GiB", 1024}, {"B", 1.0 / 1024 / 1024}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f * u.mib
		}
	}
	return 0
}

func containersOf(sandboxID string) []string {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bay.sandbox_id="+sandboxID).Output()
	return strings.Fields(string(out))
}

func removeContainers(filter string) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", filter).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
}

func removeVolumes(filter string) {
	out, _ := exec.Command("docker", "volume", "ls", "-q", "--filter", filter).Output()
	if names := strings.Fields(string(out)); len(names) > 0 {
		_ = exec.Command("docker", append([]string{"volume", "rm", "-f"}, names...)...).Run()
	}
}

func p50p95(ds []time.Duration) string {
	return fmt.Sprintf("p50 %s, p95 %s, max %s", fmtDur(pct(ds, 50)), fmtDur(pct(ds, 95)), fmtDur(pct(ds, 100)))
}

func fmtDur(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", ms(d))
}

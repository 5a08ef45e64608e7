package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func docker(args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func pct(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// keep-alive client: one connection reused for all requests.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 2 * time.Minute}

type container struct {
	id, url, token string
	runAt          time.Time
}

func run(image string) (*container, error) {
	t0 := time.Now()
	// Ship wants a runtime token, as Bay gives every session one.
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	id, err := docker("run", "-d", "--label", "bay.test=shipbench", "-e", "BAY_RUNTIME_TOKEN="+token, "-p", "127.0.0.1::8123", image)
	if err != nil {
		return nil, err
	}
	port, err := docker("port", id, "8123/tcp")
	if err != nil {
		return nil, err
	}
	parts := strings.Split(strings.Split(port, "\n")[0], ":")
	return &container{id: id, url: "http://127.0.0.1:" + parts[len(parts)-1], token: token, runAt: t0}, nil
}

func (c *container) rm() { _, _ = docker("rm", "-f", c.id) }

// waitHealthy polls /health every 2 ms and returns when it answers 200.
func (c *container) waitHealthy() (time.Time, error) {
	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := hc.Get(c.url + "/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Now(), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("no /health within 60 s")
}

func (c *container) exec(code string) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"code": code, "timeout": 60})
	req, err := http.NewRequest(http.MethodPost, c.url+"/ipython/exec", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return out, fmt.Errorf("status %d: %v", resp.StatusCode, out)
	}
	return out, nil
}

// rss returns VmRSS of the oldest process matching pattern (pgrep -f).
func (c *container) rss(pattern string) string {
	out, err := docker("exec", c.id, "sh", "-c", "grep -E '^VmRSS' /proc/$(pgrep -o "+pattern+")/status")
	if err != nil {
		return "n/a"
	}
	return strings.Join(strings.Fields(strings.TrimPrefix(out, "VmRSS:")), " ")
}

// startedAt is the container's start time per Docker (same clock as ours).
func (c *container) startedAt() (time.Time, error) {
	s, err := docker("inspect", "-f", "{{.State.StartedAt}}", c.id)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, s)
}

func main() {
	image := flag.String("image", "ship:latest", "image to benchmark")
	runs := flag.Int("runs", 10, "container starts to measure")
	execs := flag.Int("execs", 200, "trivial execs for the round-trip percentiles")
	build := flag.Bool("build", true, "time a warm images/build.sh all first")
	flag.Parse()
	if err := bench(*image, *runs, *execs, *build); err != nil {
		fmt.Fprintln(os.Stderr, "shipbench:", err)
		os.Exit(1)
	}
}

func bench(image string, runs, execs int, build bool) error {
	fmt.Printf("== Ship benchmark (%s) %s\n", image, time.Now().Format(time.RFC3339))
	if build {
		t0 := time.Now()
		cmd := exec.CommandContext(context.Background(), "images/build.sh", "all")
		cmd.Stderr = io.Discard
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("images/build.sh all: %w", err)
		}
		fmt.Printf("build, warm (images/build.sh all, nothing changed): %s\n", time.Since(t0).Round(10*time.Millisecond))
	}
	if log, err := os.ReadFile(filepath.Join("build", "image-timings.log")); err == nil {
		// Cold builds are too slow to rerun on every benchmark; report the
		// last recorded ones: each base (mmdebstrap + import) and each image
		// built together with a new base (the whole cold path).
		fmt.Println("build, cold (last recorded in build/image-timings.log, not rerun):")
		last := map[string]string{}
		var keys []string
		for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
			f := strings.Fields(l)
			if len(f) < 4 || (f[1] == "image" && !strings.Contains(l, "with_new_base=yes")) {
				continue
			}
			name := f[2] // ship-base:<flavour>-<hash> or an image tag
			if i := strings.LastIndex(name, "-"); f[1] == "base" && i > 0 {
				name = name[:i]
			}
			k := f[1] + " " + name
			if _, ok := last[k]; !ok {
				keys = append(keys, k)
			}
			last[k] = l
		}
		for _, k := range keys {
			fmt.Println("   ", last[k])
		}
	}
	for _, img := range []string{"ship:latest", "ship:data", "bay-fake-runtime:latest"} {
		if size, err := docker("image", "inspect", "-f", "{{.Size}}", img); err == nil {
			var n float64
			fmt.Sscan(size, &n)
			fmt.Printf("image size %-24s %.0f MB\n", img, n/1e6)
		}
	}

	var ready, fromStart, first []time.Duration
	for i := 0; i < runs; i++ {
		c, err := run(image)
		if err != nil {
			return err
		}
		healthy, err := c.waitHealthy()
		if err != nil {
			c.rm()
			return err
		}
		ready = append(ready, healthy.Sub(c.runAt))
		if st, err := c.startedAt(); err == nil {
			fromStart = append(fromStart, healthy.Sub(st))
		}
		t0 := time.Now()
		if _, err := c.exec("1+1"); err != nil {
			c.rm()
			return err
		}
		first = append(first, time.Since(t0))
		c.rm()
	}
	fmt.Printf("start->ready, docker run -> /health 200 (median of %d): %s (min %s, max %s)\n",
		runs, ms(median(ready)), ms(pct(ready, 0)), ms(pct(ready, 1)))
	if len(fromStart) > 0 {
		fmt.Printf("start->ready, container StartedAt -> /health 200 (median): %s\n", ms(median(fromStart)))
	}
	fmt.Printf("first Python result after ready (kernel pre-started in background; median): %s\n", ms(median(first)))

	c, err := run(image)
	if err != nil {
		return err
	}
	defer c.rm()
	if _, err := c.waitHealthy(); err != nil {
		return err
	}
	fmt.Printf("ship RSS right after ready: %s\n", c.rss("-x ship"))
	if _, err := c.exec("1+1"); err != nil {
		return err
	}
	for i := 0; i < 20; i++ { // warm-up
		_, _ = c.exec("1+1")
	}
	var rt []time.Duration
	for i := 0; i < execs; i++ {
		t0 := time.Now()
		out, err := c.exec("1+1")
		if err != nil {
			return err
		}
		rt = append(rt, time.Since(t0))
		if i == 0 && out["output"].(map[string]any)["text"] != "2" {
			return fmt.Errorf("unexpected result %v", out)
		}
	}
	fmt.Printf("trivial exec '1+1' round trip over HTTP keep-alive (N=%d): p50 %s, p90 %s, p99 %s\n",
		execs, ms(pct(rt, 0.5)), ms(pct(rt, 0.9)), ms(pct(rt, 0.99)))
	fmt.Printf("ship RSS with kernel running: %s; kernel RSS: %s\n", c.rss("-x ship"), c.rss("-f ipykernel_launcher"))
	return nil
}

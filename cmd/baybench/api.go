package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// api measures Bay serving the real Ship image: cold start to the first
// Python result, Bay's overhead per call against calling Ship directly,
// throughput with 16 concurrent clients, and RSS with 50 live sandboxes.
func api(args []string) error {
	fs := flag.NewFlagSet("api", flag.ExitOnError)
	bin := fs.String("bin", "bin/bay", "the bay binary to measure")
	image := fs.String("image", "ship:latest", "the runtime image")
	n := fs.Int("n", 500, "calls per latency measurement")
	cold := fs.Int("cold", 5, "cold starts to measure")
	live := fs.Int("live", 50, "live sandboxes for the RSS measurement")
	_ = fs.Parse(args)

	b, err := launchBay(*bin, *image)
	if err != nil {
		return err
	}
	defer b.stop()
	base, c, cmd := b.base, b.client, b.cmd
	// shipToken is sent on calls made straight to Ship, which wants the
	// session's runtime token.
	shipToken := ""
	call := func(method, url string, body any, out any) error {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, url, r)
		req.Header.Set("Content-Type", "application/json")
		if shipToken != "" && !strings.HasPrefix(url, base) {
			req.Header.Set("Authorization", "Bearer "+shipToken)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
		}
		if out != nil {
			return json.Unmarshal(data, out)
		}
		return nil
	}
	create := func() (string, error) {
		var sb struct {
			ID string `json:"id"`
		}
		err := call("POST", base+"/v1/sandboxes", map[string]any{}, &sb)
		return sb.ID, err
	}
	py := func(id, code string) error {
		var res struct {
			Success bool   `json:"success"`
			Output  string `json:"output"`
		}
		if err := call("POST", base+"/v1/sandboxes/"+id+"/python/exec", map[string]any{"code": code}, &res); err != nil {
			return err
		}
		if !res.Success {
			return fmt.Errorf("python failed: %q", res.Output)
		}
		return nil
	}

	fmt.Printf("Bay API benchmark (%s, SQLite, image %s)\n", *bin, *image)

	// 1. Cold: create -> first Python result.
	var colds []time.Duration
	for range *cold {
		start := time.Now()
		id, err := create()
		if err != nil {
			return err
		}
		if err := py(id, "print(1+2)"); err != nil {
			return err
		}
		colds = append(colds, time.Since(start))
		_ = call("DELETE", base+"/v1/sandboxes/"+id, nil, nil)
	}
	fmt.Printf("create -> first Python result (cold, %d runs): %s\n", len(colds), summary(colds))

	// 2. Overhead per call: the same calls through Bay and straight to Ship.
	id, err := create()
	if err != nil {
		return err
	}
	if err := py(id, "1+1"); err != nil {
		return err
	}
	if err := call("PUT", base+"/v1/sandboxes/"+id+"/filesystem/files", map[string]any{"path": "bench.txt", "content": "x"}, nil); err != nil {
		return err
	}
	ship, token, err := shipEndpoint(id)
	if err != nil {
		return err
	}
	shipToken = token
	// Each pair of calls, through Bay and straight to Ship, runs back to
	// back, so drift (the kernel's growing history, other load on the
	// machine) weighs on both alike; the overhead is the median of the
	// per-pair differences as well as the difference of the medians.
	paired := func(viaBay, direct func() error) (bay, ship, diff []time.Duration, err error) {
		for range *n {
			s := time.Now()
			if err := viaBay(); err != nil {
				return nil, nil, nil, err
			}
			b := time.Since(s)
			s = time.Now()
			if err := direct(); err != nil {
				return nil, nil, nil, err
			}
			d := time.Since(s)
			bay, ship, diff = append(bay, b), append(ship, d), append(diff, b-d)
		}
		return bay, ship, diff, nil
	}
	// The direct call sends what Bay sends Ship (an exec_id, so that the
	// execution can be cancelled, and silent false): the difference is
	// Bay's own work.
	seq := 0
	viaBayPy, directPy, diffPy, err := paired(func() error { return py(id, "1+1") }, func() error {
		seq++
		return call("POST", ship+"/ipython/exec", map[string]any{
			"code": "1+1", "timeout": 30, "silent": false, "exec_id": fmt.Sprintf("exec-bench%07d", seq),
		}, nil)
	})
	if err != nil {
		return err
	}
	viaBayFS, directFS, diffFS, err := paired(func() error {
		return call("GET", base+"/v1/sandboxes/"+id+"/filesystem/files?path=bench.txt", nil, nil)
	}, func() error {
		return call("POST", ship+"/fs/read_file", map[string]any{"path": "bench.txt"}, nil)
	})
	if err != nil {
		return err
	}
	fmt.Printf("python exec `1+1` through Bay (n=%d): %s\n", *n, summary(viaBayPy))
	fmt.Printf("python exec `1+1` straight to Ship:   %s\n", summary(directPy))
	fmt.Printf("  Bay overhead per exec, p50: %.3f ms (median of the per-pair differences: %.3f ms)\n",
		ms(pct(viaBayPy, 50)-pct(directPy, 50)), ms(pct(diffPy, 50)))
	fmt.Printf("file read through Bay (n=%d): %s\n", *n, summary(viaBayFS))
	fmt.Printf("file read straight to Ship:   %s\n", summary(directFS))
	fmt.Printf("  Bay overhead per call, p50: %.3f ms (median of the per-pair differences: %.3f ms)\n",
		ms(pct(viaBayFS, 50)-pct(directFS, 50)), ms(pct(diffFS, 50)))

	// 3. Throughput with 16 concurrent clients.
	ids := []string{id}
	for range 3 {
		extra, err := create()
		if err != nil {
			return err
		}
		if err := py(extra, "1+1"); err != nil {
			return err
		}
		ids = append(ids, extra)
	}
	rate := func(d time.Duration, f func(i int) error) (float64, error) {
		var count atomic.Int64
		var firstErr atomic.Value
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if err := f(w); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					count.Add(1)
				}
			}()
		}
		wg.Wait()
		if e := firstErr.Load(); e != nil {
			return 0, e.(error)
		}
		return float64(count.Load()) / d.Seconds(), nil
	}
	getRate, err := rate(5*time.Second, func(int) error { return call("GET", base+"/v1/sandboxes/"+id, nil, nil) })
	if err != nil {
		return err
	}
	execRate, err := rate(5*time.Second, func(w int) error { return py(ids[w%len(ids)], "1+1") })
	if err != nil {
		return err
	}
	fmt.Printf("GET /v1/sandboxes/{id}, 16 concurrent clients: %.0f req/s\n", getRate)
	fmt.Printf("python exec `1+1`, 16 concurrent clients over %d sandboxes: %.0f req/s\n", len(ids), execRate)

	// 4. RSS with many live sandboxes, each with a running runtime.
	for len(ids) < *live {
		extra, err := create()
		if err != nil {
			return err
		}
		if err := call("POST", base+"/v1/sandboxes/"+extra+"/shell/exec", map[string]any{"command": "true"}, nil); err != nil {
			return err
		}
		ids = append(ids, extra)
	}
	time.Sleep(time.Second)
	rss, _ := statusKB(cmd.Process.Pid, "VmRSS")
	anon, _ := statusKB(cmd.Process.Pid, "RssAnon")
	fmt.Printf("Bay RSS with %d live sandboxes (each with a running container): %.1f MB (private %.1f MB)\n", len(ids), mb(rss), mb(anon))
	// Deleting the sandboxes removes their containers and managed volumes.
	for _, id := range ids {
		if err := call("DELETE", base+"/v1/sandboxes/"+id, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// shipEndpoint finds the published address of the sandbox's Ship and its
// runtime token (in the container's environment).
func shipEndpoint(sandboxID string) (string, string, error) {
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=bay.sandbox_id="+sandboxID).Output()
	if err != nil {
		return "", "", err
	}
	id := strings.TrimSpace(string(out))
	if id == "" {
		return "", "", fmt.Errorf("no container for %s", sandboxID)
	}
	env, err := exec.Command("docker", "inspect", "-f", `{{range .Config.Env}}{{println .}}{{end}}`, id).Output()
	if err != nil {
		return "", "", err
	}
	token := ""
	for line := range strings.Lines(string(env)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "BAY_RUNTIME_TOKEN="); ok {
			token = v
		}
	}
	out, err = exec.Command("docker", "port", id, "8123/tcp").Output()
	if err != nil {
		return "", "", err
	}
	line := strings.Fields(strings.TrimSpace(string(out)))[0]
	_, p, _ := strings.Cut(line, ":")
	if i := strings.LastIndex(line, ":"); i >= 0 {
		p = line[i+1:]
	}
	return "http://127.0.0.1:" + p, token, nil
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func summary(ds []time.Duration) string {
	return fmt.Sprintf("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, min %.2f ms", ms(pct(ds, 50)), ms(pct(ds, 90)), ms(pct(ds, 99)), ms(pct(ds, 0)))
}

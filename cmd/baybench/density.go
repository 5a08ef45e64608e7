package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// densityProfiles: cold starts lazily; pooled keeps a warm pool; pausing
// pauses after one idle second.
const densityProfiles = `[
 {"id":"cold","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"resources":{"memory":"512m","cpus":1},"idle_timeout":1800},
 {"id":"pooled","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"resources":{"memory":"512m","cpus":1},"idle_timeout":1800,"warm_pool":{"size":%d}},
 {"id":"pausing","image":"ship:latest","runtime_port":8123,"capabilities":["filesystem","shell","python"],"resources":{"memory":"512m","cpus":1},"idle_timeout":1800,"idle_pause":1}
]`

// densityRow is one engine's results.
type densityRow struct {
	engine                string
	cold, pool, resume    []time.Duration
	live, answered        int
	rssMB, anonMB         float64
	execs                 []time.Duration
	hostMBPer, sandboxMBs float64
}

// density measures, on SQLite and on Postgres, create → first Python
// result cold, from the warm pool and after a resume from pause; then 100
// live sandboxes, each holding a variable in its kernel: that every one
// answers, Bay's RSS, exec latency with 16 concurrent clients, and host
// memory per sandbox.
func density(args []string) error {
	fs := flag.NewFlagSet("density", flag.ExitOnError)
	bin := fs.String("bin", "bin/bay", "the bay binary to measure")
	runs := fs.Int("runs", 20, "runs per start measurement")
	live := fs.Int("live", 100, "live sandboxes")
	pool := fs.Int("pool", 2, "warm pool size of the pooled profile")
	pg := fs.String("postgres", os.Getenv("BAY_TEST_POSTGRES_URL"), "Postgres URL for the Postgres lane (empty: SQLite only)")
	execs := fs.Int("execs", 2000, "execs spread over the live sandboxes by 16 clients")
	_ = fs.Parse(args)

	engines := []string{"sqlite"}
	if *pg != "" {
		engines = append(engines, "postgres")
	}
	var rows []densityRow
	for _, engine := range engines {
		dbURL := ""
		if engine == "postgres" {
			u, drop, err := freshSchema(*pg)
			if err != nil {
				return err
			}
			defer drop()
			dbURL = u
		}
		row, err := densityOn(engine, *bin, dbURL, *runs, *live, *pool, *execs)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		rows = append(rows, row)
	}

	fmt.Printf("\nBay density benchmark (%s; warm pool %d; %d runs per start measurement)\n\n", *bin, *pool, *runs)
	fmt.Println("| engine | create → first result, cold p50 / p90 | from the pool p50 / p90 | after resume from pause p50 / p90 |")
	fmt.Println("|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s |\n", r.engine, p50p90(r.cold), p50p90(r.pool), p50p90(r.resume))
	}
	fmt.Println()
	fmt.Println("| engine | live sandboxes answering | Bay RSS (private) | exec p50 / p99, 16 clients | host memory per live sandbox |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %d of %d | %.1f MB (%.1f MB) | %.2f ms / %.2f ms | %.0f MB (containers' own: %.0f MB) |\n",
			r.engine, r.answered, r.live, r.rssMB, r.anonMB, ms(pct(r.execs, 50)), ms(pct(r.execs, 99)), r.hostMBPer, r.sandboxMBs)
	}
	return nil
}

func p50p90(ds []time.Duration) string {
	return fmt.Sprintf("%.1f ms / %.1f ms", ms(pct(ds, 50)), ms(pct(ds, 90)))
}

// freshSchema makes a schema of its own on the Postgres at base and
// returns a URL that uses it, and a function that drops it.
func freshSchema(base string) (string, func(), error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		_ = conn.Close(ctx)
		return "", nil, err
	}
	drop := func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		_ = conn.Close(context.Background())
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

func densityOn(engine, bin, dbURL string, runs, live, pool, execs int) (densityRow, error) {
	row := densityRow{engine: engine, live: live}
	b, err := launchBayOn(bin, fmt.Sprintf(densityProfiles, pool), dbURL, "BAY_GC__ENABLED=true", "BAY_GC__INTERVAL_SECONDS=3600")
	if err != nil {
		return row, err
	}
	defer func() {
		// Unclaimed pool entries' volumes: Bay keeps them for its next
		// start, the benchmark does not.
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bay.instance_id="+b.instance,
			"--filter", "label=bay.profile_id=pooled").Output()
		var volumes []string
		for _, id := range strings.Fields(string(out)) {
			l, err := exec.Command("docker", "inspect", "-f", `{{index .Config.Labels "bay.locker_id"}}`, id).Output()
			if err == nil {
				volumes = append(volumes, "bay-"+strings.TrimSpace(string(l)))
			}
		}
		b.stop()
		if len(volumes) > 0 {
			_ = exec.Command("docker", append([]string{"volume", "rm", "-f"}, volumes...)...).Run()
		}
	}()
	create := func(profile string) (string, error) {
		var sb struct {
			ID string `json:"id"`
		}
		err := postJSON(b, "/v1/sandboxes", map[string]any{"profile": profile}, &sb)
		return sb.ID, err
	}
	del := func(id string) {
		req, _ := http.NewRequest(http.MethodDelete, b.base+"/v1/sandboxes/"+id, nil)
		if resp, err := b.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	first := func(profile string) (time.Duration, error) {
		start := time.Now()
		id, err := create(profile)
		if err != nil {
			return 0, err
		}
		out, err := python(b, id, "print(1+2)")
		took := time.Since(start)
		del(id)
		if err != nil {
			return 0, err
		}
		if strings.TrimSpace(out) != "3" {
			return 0, fmt.Errorf("unexpected output %q", out)
		}
		return took, nil
	}

	fmt.Fprintf(os.Stderr, "%s: cold starts\n", engine)
	for range runs {
		d, err := first("cold")
		if err != nil {
			return row, err
		}
		row.cold = append(row.cold, d)
	}
	fmt.Fprintf(os.Stderr, "%s: starts from the pool (waiting for the refill before each)\n", engine)
	for range runs {
		if err := waitPoolFull(b, pool); err != nil {
			return row, err
		}
		d, err := first("pooled")
		if err != nil {
			return row, err
		}
		row.pool = append(row.pool, d)
	}
	fmt.Fprintf(os.Stderr, "%s: resumes from pause\n", engine)
	id, err := create("pausing")
	if err != nil {
		return row, err
	}
	if _, err := python(b, id, "x = 41"); err != nil {
		return row, err
	}
	for range runs {
		if err := waitPaused(b, id); err != nil {
			return row, err
		}
		start := time.Now()
		out, err := python(b, id, "x += 1; print(x)")
		if err != nil {
			return row, err
		}
		row.resume = append(row.resume, time.Since(start))
		if out == "" {
			return row, errors.New("no output after resume")
		}
	}
	want := strconv.Itoa(41 + runs)
	if out, err := python(b, id, "print(x)"); err != nil || strings.TrimSpace(out) != want {
		return row, fmt.Errorf("the kernel lost its state across pauses: %q, %v", out, err)
	}
	del(id)

	fmt.Fprintf(os.Stderr, "%s: %d live sandboxes\n", engine, live)
	before, _ := memAvailableMB()
	ids := make([]string, live)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range 4 { // four at a time: kernel starts are CPU-bound
		wg.Go(func() {
			for i := range next {
				id, err := create("cold")
				if err == nil {
					_, err = python(b, id, fmt.Sprintf("v = %d", i))
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				ids[i] = id
				mu.Unlock()
			}
		})
	}
	for i := range live {
		next <- i
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, id := range ids {
			if id != "" {
				del(id)
			}
		}
	}()
	if firstErr != nil {
		return row, firstErr
	}
	for i, id := range ids {
		out, err := python(b, id, "print(v)")
		if err == nil && strings.TrimSpace(out) == strconv.Itoa(i) {
			row.answered++
		}
	}
	time.Sleep(time.Second)
	rss, _ := statusKB(b.cmd.Process.Pid, "VmRSS")
	anon, _ := statusKB(b.cmd.Process.Pid, "RssAnon")
	row.rssMB, row.anonMB = mb(rss), mb(anon)
	if after, err := memAvailableMB(); err == nil && before > 0 {
		row.hostMBPer = (before - after) / float64(live)
	}
	row.sandboxMBs = containersMemMB(b.instance, "cold") / float64(live)

	var (
		emu   sync.Mutex
		count = make(chan int)
	)
	for w := range 16 {
		wg.Go(func() {
			for i := range count {
				id := ids[(i*16+w)%len(ids)]
				s := time.Now()
				_, err := python(b, id, "v")
				d := time.Since(s)
				emu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				row.execs = append(row.execs, d)
				emu.Unlock()
			}
		})
	}
	for i := range execs {
		count <- i
	}
	close(count)
	wg.Wait()
	return row, firstErr
}

// waitPoolFull waits until the pooled profile has size ready entries.
func waitPoolFull(b *benchBay, size int) error {
	deadline := time.Now().Add(3 * time.Minute)
	re := regexp.MustCompile(`(?m)^bay_pool_size\{profile="pooled"\} (\S+)$`)
	for time.Now().Before(deadline) {
		resp, err := b.client.Get(b.base + "/metrics")
		if err == nil {
			var buf strings.Builder
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				buf.WriteString(sc.Text() + "\n")
			}
			resp.Body.Close()
			if m := re.FindStringSubmatch(buf.String()); m != nil && m[1] == strconv.Itoa(size) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the warm pool did not fill")
}

// waitPaused waits until the sandbox shows paused.
func waitPaused(b *benchBay, id string) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := b.client.Get(b.base + "/v1/sandboxes/" + id)
		if err == nil {
			var sb struct {
				Paused bool `json:"paused"`
			}
			err = decodeJSON(resp, &sb)
			if err == nil && sb.Paused {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the sandbox was not paused")
}

func decodeJSON(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// memAvailableMB reads MemAvailable from /proc/meminfo.
func memAvailableMB() (float64, error) {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no MemAvailable")
}

// containersMemMB sums what docker stats reports for an instance's
// containers of a profile.
func containersMemMB(instance, profile string) float64 {
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=bay.instance_id="+instance, "--filter", "label=bay.profile_id="+profile).Output()
	if err != nil {
		return 0
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return 0
	}
	out, err = exec.Command("docker", append([]string{"stats", "--no-stream", "--format", "{{.MemUsage}}"}, ids...)...).Output()
	if err != nil {
		return 0
	}
	total := 0.0
	for line := range strings.Lines(string(out)) {
		used, _, _ := strings.Cut(line, "/")
		total += mib(strings.TrimSpace(used))
	}
	return total
}

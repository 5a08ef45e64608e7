// Command baybench measures Bay from the outside and prints the numbers.
//
//	baybench startup [-bin bin/bay] [-runs 7] [-config default|e2e|all]
//	baybench api [-bin bin/bay] [-image ship:latest] [-n 500] [-live 50]
//	baybench exec [-bin bin/bay] [-image ship:latest] [-n 50] [-lines 100000]
//	baybench browser [-bin bin/bay] [-image bay-browser:latest] [-runs 5] [-n 20] [-rt 200] [-shots 10]
//	baybench density [-bin bin/bay] [-postgres URL] [-runs 20] [-live 100] [-pool 2] [-execs 2000]
//
// density prints, for SQLite and (given a Postgres URL, or
// $BAY_TEST_POSTGRES_URL) Postgres, create → first Python result cold,
// from the warm pool and after a resume from pause, then 100 live
// sandboxes: how many answer, Bay's RSS, exec latency with 16 clients and
// host memory per sandbox.
//
// browser prints browser.md §7's performance table: the browser image run
// directly, then the browser-python profile (Ship + browser) through Bay.
//
// startup starts the built binary on a fresh SQLite file again and again, with
// the default configuration and with one like the end-to-end tests', and
// prints a table of the median times from process start to the first 200 on
// /health and on /ready, and the median resident set size after the server
// has been ready and idle for a second.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: baybench startup|api|exec|browser|density [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "startup":
		err = startup(os.Args[2:])
	case "api":
		err = api(os.Args[2:])
	case "exec":
		err = execBench(os.Args[2:])
	case "browser":
		err = browserBench(os.Args[2:])
	case "density":
		err = density(os.Args[2:])
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baybench:", err)
		os.Exit(1)
	}
}

// startupConfigs are the configurations startup measures: Bay's defaults
// with GC off, and one like the end-to-end tests' (test/harness_test.go):
// three profiles, GC on with the orphan-container task and a cycle at
// start-up, which asks the Docker daemon.
var startupConfigs = []string{"default", "e2e"}

// startupE2EConfig is the e2e configuration file; %d is the port, %s the
// database URL and %s the GC instance id.
const startupE2EConfig = `server: {host: 127.0.0.1, port: %d}
database: {url: "%s"}
driver:
  docker: {connect_mode: host_port, host_address: 127.0.0.1}
gc:
  enabled: true
  run_on_startup: true
  instance_id: %s
  orphan_container: {enabled: true}
log: {level: warn}
profiles:
  - id: python-default
    image: ship:latest
    resources: {cpus: 1.0, memory: 1g}
    capabilities: [filesystem, shell, python]
  - id: python-only
    image: ship:latest
    capabilities: [python]
  - id: python-data
    image: ship:data
    resources: {cpus: 2.0, memory: 2g}
    capabilities: [filesystem, shell, python]
`

// startupResult is what one configuration measured, over every run.
type startupResult struct {
	config        string
	health, ready []time.Duration // ready: 0 when /ready never said 200
	rss, anon     []int64
}

func startup(args []string) error {
	fs := flag.NewFlagSet("startup", flag.ExitOnError)
	bin := fs.String("bin", "bin/bay", "the bay binary to measure")
	runs := fs.Int("runs", 7, "number of runs")
	config := fs.String("config", "all", "default (built-in configuration, GC off), e2e (three profiles, orphan-container GC, a GC cycle at start-up) or all")
	_ = fs.Parse(args)

	configs := startupConfigs
	if *config != "all" {
		if !slices.Contains(startupConfigs, *config) {
			return fmt.Errorf("unknown -config %q (want %s or all)", *config, strings.Join(startupConfigs, ", "))
		}
		configs = []string{*config}
	}
	if err := dropPageCache(*bin); err != nil {
		return err
	}
	var results []startupResult
	for _, c := range configs {
		r := startupResult{config: c}
		for range *runs {
			if err := startOnce(*bin, c, &r); err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
		}
		results = append(results, r)
	}

	fmt.Printf("bay startup (%s, SQLite, fresh database, %d runs each; medians, min–max in brackets)\n", *bin, *runs)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "config\tstart → /health 200\tstart → /ready 200\tidle RSS\tRssAnon")
	for _, r := range results {
		ready := "never"
		if r.ready[len(r.ready)-1] > 0 {
			ready = spread(r.ready)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.1f MB\t%.1f MB\n", r.config, spread(r.health), ready,
			mb(median(r.rss)), mb(median(r.anon)))
	}
	_ = w.Flush()
	fmt.Println("idle RSS is VmRSS 1 s after /ready (or after /health when /ready stays 503); the part that is")
	fmt.Println("not RssAnon is the binary's pages from the shared page cache, read from disk by the first run")
	return nil
}

// dropPageCache writes the binary's pages out and drops them from the page
// cache, so that the runs map it as a Bay started from an installed binary
// does. Straight from the linker, its pages sit in the cache in the large
// chunks they were written in, each of which a process touching one byte
// of it maps whole: that would count some 8 MB of untouched binary into
// every run's RSS.
func dropPageCache(path string) error {
	f, err := os.Open(path) // #nosec G304 -- the binary to measure, named on the command line
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	const fadvDontNeed = 4 // POSIX_FADV_DONTNEED
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		return fmt.Errorf("drop %s from the page cache: %w", path, errno)
	}
	return nil
}

// startOnce starts Bay with configuration c on a fresh SQLite file, polls
// /health, then /ready, and reads its memory once it has been idle for a
// second.
func startOnce(bin, c string, r *startupResult) error {
	dir, err := os.MkdirTemp("", "baybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	db := "sqlite:///" + filepath.Join(dir, "bay.db")
	cmd := exec.Command(bin, "serve")
	switch c {
	case "e2e":
		path := filepath.Join(dir, "bay.yaml")
		instance := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := os.WriteFile(path, fmt.Appendf(nil, startupE2EConfig, port, db, instance), 0o600); err != nil {
			return err
		}
		cmd.Args = append(cmd.Args[:1], "--config", path, "serve")
		cmd.Env = os.Environ()
	default:
		cmd.Env = append(os.Environ(),
			"BAY_CONFIG_FILE=/nonexistent",
			"BAY_SERVER__HOST=127.0.0.1",
			"BAY_SERVER__PORT="+strconv.Itoa(port),
			"BAY_DATABASE__URL="+db,
			"BAY_GC__ENABLED=false",
			"BAY_LOG__LEVEL=warn",
		)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	poll := func(path string, every, limit time.Duration) time.Duration {
		for time.Since(start) < limit {
			if resp, err := client.Get(base + path); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return time.Since(start)
				}
			}
			time.Sleep(every)
		}
		return 0
	}
	health := poll("/health", 200*time.Microsecond, 10*time.Second)
	if health == 0 {
		return fmt.Errorf("bay did not answer /health in 10s")
	}
	// /ready is polled every millisecond, not as fast as /health: its
	// polls would take the CPU from the start-up they time.
	ready := poll("/ready", time.Millisecond, 10*time.Second)
	time.Sleep(time.Second)
	kb, err := statusKB(cmd.Process.Pid, "VmRSS")
	if err != nil {
		return err
	}
	akb, _ := statusKB(cmd.Process.Pid, "RssAnon")
	r.health, r.ready = append(r.health, health), append(r.ready, ready)
	r.rss, r.anon = append(r.rss, kb), append(r.anon, akb)
	return nil
}

// spread prints the median of ds and their range.
func spread(ds []time.Duration) string {
	s := slices.Sorted(slices.Values(ds))
	return fmt.Sprintf("%.1f ms (%.1f–%.1f)", ms(s[len(s)/2]), ms(s[0]), ms(s[len(s)-1]))
}

func median(v []int64) int64 {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mb(kb int64) float64        { return float64(kb) / 1024 }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// statusKB reads a kB field (VmRSS, RssAnon, …) of a process from /proc.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

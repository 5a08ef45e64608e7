// Command baybench measures Bay from the outside and prints the numbers.
//
//	baybench startup [-bin bin/bay] [-runs 7]
//	baybench api [-bin bin/bay] [-image ship:latest] [-n 500] [-live 50]
//	baybench exec [-bin bin/bay] [-image ship:latest] [-n 50] [-lines 100000]
//	baybench browser [-bin bin/bay] [-image bay-browser:latest] [-runs 5] [-n 20] [-rt 200] [-shots 10]
//
// browser prints browser.md §7's performance table: the browser image run
// directly, then the browser-python profile (Ship + browser) through Bay.
//
// startup starts the built binary on a fresh SQLite file again and again and
// prints the median time from process start to the first 200 on /health, and
// the median resident set size after the server has been idle for a second.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: baybench startup|api|exec|browser [flags]")
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
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baybench:", err)
		os.Exit(1)
	}
}

func startup(args []string) error {
	fs := flag.NewFlagSet("startup", flag.ExitOnError)
	bin := fs.String("bin", "bin/bay", "the bay binary to measure")
	runs := fs.Int("runs", 7, "number of runs")
	_ = fs.Parse(args)

	var ready []time.Duration
	var rss, anon []int64
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < *runs; i++ {
		dir, err := os.MkdirTemp("", "baybench-")
		if err != nil {
			return err
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		cmd := exec.Command(*bin, "serve")
		cmd.Env = append(os.Environ(),
			"BAY_CONFIG_FILE=/nonexistent",
			"BAY_SERVER__HOST=127.0.0.1",
			"BAY_SERVER__PORT="+strconv.Itoa(port),
			"BAY_DATABASE__URL=sqlite:///"+filepath.Join(dir, "bay.db"),
			"BAY_GC__ENABLED=false",
			"BAY_LOG__LEVEL=warn",
		)
		url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		var took time.Duration
		for {
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					took = time.Since(start)
					break
				}
			}
			if time.Since(start) > 10*time.Second {
				_ = cmd.Process.Kill()
				return fmt.Errorf("bay did not become ready in 10s")
			}
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(time.Second)
		kb, err := statusKB(cmd.Process.Pid, "VmRSS")
		akb, _ := statusKB(cmd.Process.Pid, "RssAnon")
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
		if err != nil {
			return err
		}
		ready = append(ready, took)
		rss = append(rss, kb)
		anon = append(anon, akb)
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i] < ready[j] })
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	sort.Slice(anon, func(i, j int) bool { return anon[i] < anon[j] })
	fmt.Printf("bay startup (SQLite, %d runs): start -> first 200 on /health: median %.1f ms (min %.1f, max %.1f)\n",
		len(ready), ms(ready[len(ready)/2]), ms(ready[0]), ms(ready[len(ready)-1]))
	fmt.Printf("bay idle RSS after 1 s: median %.1f MB (min %.1f, max %.1f)\n",
		mb(rss[len(rss)/2]), mb(rss[0]), mb(rss[len(rss)-1]))
	fmt.Printf("  of which private (RssAnon): median %.1f MB; the rest is the binary's pages from the shared page cache\n",
		mb(anon[len(anon)/2]))
	return nil
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

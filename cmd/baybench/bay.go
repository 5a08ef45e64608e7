package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// benchBay is a Bay process started for a benchmark on a fresh SQLite file,
// with one python-default profile on the given image (launchBay) or the
// profiles given as BAY_PROFILES JSON (launchBayWith).
type benchBay struct {
	base   string
	client *http.Client
	cmd    *exec.Cmd
	dir    string
	// instance labels its containers, which stop removes.
	instance string
}

func launchBay(bin, image string) (*benchBay, error) {
	return launchBayWith(bin, fmt.Sprintf(`[{"id":"python-default","image":%q,"capabilities":["filesystem","shell","python"],"resources":{"memory":"512m","cpus":1}}]`, image))
}

func launchBayWith(bin, profiles string) (*benchBay, error) {
	return launchBayOn(bin, profiles, "")
}

// launchBayOn is launchBayWith on the database at dbURL ("" is a fresh
// SQLite file), with extra environment entries.
func launchBayOn(bin, profiles, dbURL string, env ...string) (*benchBay, error) {
	dir, err := os.MkdirTemp("", "baybench-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if dbURL == "" {
		dbURL = "sqlite:///" + filepath.Join(dir, "bay.db")
	}
	b := &benchBay{dir: dir, instance: "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	b.cmd = exec.Command(bin, "serve")
	b.cmd.Env = append(os.Environ(),
		"BAY_CONFIG_FILE=/nonexistent",
		"BAY_SERVER__HOST=127.0.0.1",
		"BAY_SERVER__PORT="+strconv.Itoa(port),
		"BAY_DATABASE__URL="+dbURL,
		"BAY_DRIVER__DOCKER__CONNECT_MODE=host_port",
		"BAY_GC__ENABLED=false",
		"BAY_GC__INSTANCE_ID="+b.instance,
		"BAY_LOG__LEVEL=warn",
		"BAY_PROFILES="+profiles,
	)
	b.cmd.Env = append(b.cmd.Env, env...)
	b.cmd.Stderr = os.Stderr
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	b.client = &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// /health answers as soon as Bay listens; the benchmarks wait for the
	// end of start-up (/ready's startup check), as the e2e tests do.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b.started() {
			return b, nil
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("bay did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// started reports whether /ready's startup check is ok.
func (b *benchBay) started() bool {
	resp, err := b.client.Get(b.base + "/ready")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Checks map[string]string `json:"checks"`
	}
	return json.NewDecoder(resp.Body).Decode(&r) == nil && r.Checks["startup"] == "ok"
}

// stop ends Bay and removes its containers and its database.
func (b *benchBay) stop() {
	_ = b.cmd.Process.Signal(os.Interrupt)
	_ = b.cmd.Wait()
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bay.instance_id="+b.instance).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	os.RemoveAll(b.dir)
}

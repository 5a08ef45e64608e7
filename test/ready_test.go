package test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cuttableProxy forwards TCP connections to target until cut, which closes
// every connection and refuses new ones, as a database outage would.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cuttableProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cuttableProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func getJSON(t require.TestingT, url string) (int, map[string]any) {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// TestE2E_HealthDuringDatabaseOutage: liveness stays up while the database
// is gone, readiness says so, and both recover when it is back.
func TestE2E_HealthDuringDatabaseOutage(t *testing.T) {
	t.Parallel()
	need(t, dockerOK(), "the Docker daemon does not answer")
	need(t, os.Getenv("BAY_TEST_POSTGRES_URL") != "", "BAY_TEST_POSTGRES_URL is not set")
	db := newDatabase(t, "postgres")
	u, err := url.Parse(db)
	require.NoError(t, err)
	proxy := newCuttableProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	b := startBay(t, bayOpts{engine: "postgres", db: u.String()})

	code, body := getJSON(t, b.URL+"/ready")
	require.Equal(t, http.StatusOK, code, "body %v", body)
	require.Equal(t, map[string]any{"database": "ok", "runtime": "ok", "startup": "ok"}, body["checks"])

	proxy.cut()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := getJSON(c, b.URL+"/ready")
		require.Equal(c, http.StatusServiceUnavailable, code)
		require.Contains(c, body["checks"].(map[string]any)["database"], "unreachable: ")
		require.Equal(c, "ok", body["checks"].(map[string]any)["runtime"])
	}, 30*time.Second, 200*time.Millisecond)
	for range 20 {
		code, _ := getJSON(t, b.URL+"/health")
		require.Equal(t, http.StatusOK, code, "liveness does not depend on the database")
	}
	st, hdr, raw := b.raw("GET", "/v1/sandboxes", nil)
	envelope(t, st, hdr, raw, http.StatusInternalServerError, "internal_error")

	proxy.restore()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, _ := getJSON(c, b.URL+"/ready")
		require.Equal(c, http.StatusOK, code)
		st, _, _ := b.raw("GET", "/v1/sandboxes", nil)
		require.Equal(c, http.StatusOK, st)
	}, 30*time.Second, 200*time.Millisecond)
}

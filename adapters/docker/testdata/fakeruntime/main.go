// Command fakeruntime is a stand-in for the Ship runtime in the Docker
// adapter's tests. It answers GET /health, GET /meta and GET /dial on port
// 8123 (or $PORT) and exits promptly on SIGTERM. As Ship, it wants
// "Authorization: Bearer $BAY_RUNTIME_TOKEN" on everything but /health. It
// is built statically and put into a FROM scratch image, so it needs no
// /tmp and no /etc/passwd.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8123"
	}
	token := os.Getenv("BAY_RUNTIME_TOKEN")
	os.Unsetenv("BAY_RUNTIME_TOKEN")
	if token == "" {
		log.Fatal("BAY_RUNTIME_TOKEN is not set")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"healthy"}`))
	})
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, _ *http.Request) {
		ws := os.Getenv("BAY_WORKSPACE_PATH")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"runtime":            "fakeruntime",
			"session_id":         os.Getenv("BAY_SESSION_ID"),
			"sandbox_id":         os.Getenv("BAY_SANDBOX_ID"),
			"workspace":          ws,
			"workspace_writable": writable(ws),
			"uid":                os.Getuid(),
		})
	})
	// GET /dial?addr=host:port opens a TCP connection from inside the
	// container and reports whether it was accepted, so that tests can
	// probe the container's network policy.
	mux.HandleFunc("GET /dial", func(w http.ResponseWriter, r *http.Request) {
		// #nosec G704 -- dialing what the test asks is this probe's job
		conn, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), 3*time.Second)
		res := map[string]any{"connected": err == nil}
		if err != nil {
			res["error"] = err.Error()
		} else {
			conn.Close()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if r.URL.Path != "/health" && subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+token)) != 1 {
			http.Error(w, `{"detail":"missing or invalid runtime token"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: ":" + port, Handler: auth, ReadHeaderTimeout: 5 * time.Second}

	// As PID 1 the process gets no default signal handling: without this,
	// docker stop would wait out its whole grace period.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// writable reports whether a file can be created in dir.
func writable(dir string) bool {
	if dir == "" {
		return false
	}
	p := filepath.Join(dir, ".fakeruntime-probe")
	if err := os.WriteFile(p, []byte("ok"), 0o600); err != nil { // #nosec G703 -- dir is BAY_WORKSPACE_PATH, set by Bay
		return false
	}
	return os.Remove(p) == nil // #nosec G703 -- as above
}

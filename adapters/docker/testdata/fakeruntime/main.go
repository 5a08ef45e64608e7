// Command fakeruntime is a stand-in for the Ship runtime in the Docker
// adapter's tests. It answers GET /health and GET /meta on port 8123 (or
// $PORT) and exits promptly on SIGTERM. It is built statically and put into
// a FROM scratch image, so it needs no /tmp and no /etc/passwd.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
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
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

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
	if err := os.WriteFile(p, []byte("ok"), 0o600); err != nil {
		return false
	}
	return os.Remove(p) == nil
}

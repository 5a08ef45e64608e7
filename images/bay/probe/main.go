// Command bay-probe is the health check inside Bay's image (images/bay),
// which has no shell and no HTTP client for Docker's HEALTHCHECK or a
// compose healthcheck to run:
//
//	bay-probe [PATH | http://HOST:PORT/PATH]
//
// It sends GET PATH (default /health) to 127.0.0.1 on Bay's port
// ($BAY_SERVER__PORT, default 8000), or to the URL given, and exits 0 when
// the answer is 2xx and 1 otherwise, saying why on stderr. It speaks just
// enough HTTP/1.0 for that, which keeps it a third of the size of a
// net/http client. Standard library only.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// timeout bounds the whole check; Docker's default health check timeout
// is 30 s and the image sets 5 s.
const timeout = 4 * time.Second

func main() {
	target := "/health"
	if len(os.Args) > 1 {
		target = os.Args[1]
	}
	if err := probe(target, os.Getenv("BAY_SERVER__PORT")); err != nil {
		fmt.Fprintln(os.Stderr, "bay-probe:", err)
		os.Exit(1)
	}
}

// probe checks target, a path on 127.0.0.1:port (port "" is 8000) or an
// http:// URL.
func probe(target, port string) error {
	if port == "" {
		port = "8000"
	}
	host, path := net.JoinHostPort("127.0.0.1", port), target
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("%q: want a path or an http://host:port/path URL", target)
		}
		host, path = u.Host, u.RequestURI()
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("%q: want a path starting with /", target)
	}
	conn, err := net.DialTimeout("tcp", host, timeout) // #nosec G704 -- the address is the health check's own argument (127.0.0.1 unless a URL is given)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: bay-probe\r\n\r\n", path, host); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	// "HTTP/1.1 200 OK"
	f := strings.Fields(status)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return fmt.Errorf("GET %s: not an HTTP answer: %q", path, strings.TrimSpace(status))
	}
	if len(f[1]) != 3 || f[1][0] != '2' {
		// The body says what is not ready (/ready's checks); the health
		// log shows it.
		rest, _ := io.ReadAll(io.LimitReader(r, 4096))
		_, body, _ := strings.Cut(string(rest), "\r\n\r\n")
		return fmt.Errorf("GET %s: %s %s", path, strings.TrimSpace(status), strings.TrimSpace(body))
	}
	return nil
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// execBench measures streamed executions through Bay and the real Ship:
// the time to the first streamed output of print('x'), and the event
// throughput of a cell printing many lines.
func execBench(args []string) error {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	bin := fs.String("bin", "bin/bay", "the bay binary to measure")
	image := fs.String("image", "ship:latest", "the runtime image")
	n := fs.Int("n", 50, "streams for the first-byte measurement")
	lines := fs.Int("lines", 100000, "lines printed by the throughput cell")
	_ = fs.Parse(args)

	b, err := launchBay(*bin, *image)
	if err != nil {
		return err
	}
	defer b.stop()
	var sb struct {
		ID string `json:"id"`
	}
	if err := postJSON(b, "/v1/sandboxes", map[string]any{}, &sb); err != nil {
		return err
	}
	defer func() { _ = postJSON(b, "DELETE /v1/sandboxes/"+sb.ID, nil, nil) }()
	if err := postJSON(b, "/v1/sandboxes/"+sb.ID+"/python/exec", map[string]any{"code": "1"}, nil); err != nil {
		return err
	}
	fmt.Printf("Bay streaming benchmark (%s, SQLite, image %s)\n", *bin, *image)

	// 1. Time to the first streamed output: from sending the request to
	// reading the first stdout event.
	var firsts, totals []time.Duration
	for range *n {
		start := time.Now()
		var first time.Duration
		err := stream(b, sb.ID, "print('x')", func(ev string, _ []byte) {
			if ev == "stdout" && first == 0 {
				first = time.Since(start)
			}
		})
		if err != nil {
			return err
		}
		if first == 0 {
			return fmt.Errorf("no stdout event")
		}
		firsts = append(firsts, first)
		totals = append(totals, time.Since(start))
	}
	fmt.Printf("stream print('x'): first stdout event (n=%d): %s\n", *n, summary(firsts))
	fmt.Printf("stream print('x'): done event (n=%d):         %s\n", *n, summary(totals))

	// 2. Throughput: a cell printing many lines, streamed to the end.
	code := fmt.Sprintf("for i in range(%d):\n    print(i)", *lines)
	var events, stdoutBytes int
	start := time.Now()
	err = stream(b, sb.ID, code, func(ev string, data []byte) {
		if ev == "stdout" {
			events++
			stdoutBytes += len(data)
		}
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("stream of %d printed lines: %.2f s, %d stdout events (%.0f events/s, %.0f lines/s, %.1f MB/s of event data)\n",
		*lines, took.Seconds(), events, float64(events)/took.Seconds(), float64(*lines)/took.Seconds(), float64(stdoutBytes)/took.Seconds()/1e6)
	return nil
}

// postJSON sends a request ("PATH" means POST; "METHOD PATH" otherwise)
// and decodes the answer into out when not nil.
func postJSON(b *benchBay, target string, body, out any) error {
	method, path, ok := strings.Cut(target, " ")
	if !ok {
		method, path = http.MethodPost, target
	}
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, b.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// stream runs code through the python stream endpoint and calls fn with
// each event's name and data line, until done (or fault, an error).
func stream(b *benchBay, sandboxID, code string, fn func(event string, data []byte)) error {
	body, _ := json.Marshal(map[string]any{"code": code, "timeout": 600})
	req, _ := http.NewRequest(http.MethodPost, b.base+"/v1/sandboxes/"+sandboxID+"/python/exec/stream", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("stream: %d %s", resp.StatusCode, data)
	}
	r := bufio.NewReaderSize(resp.Body, 1<<20)
	event := ""
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("stream ended before done: %w", err)
		}
		switch {
		case bytes.HasPrefix(line, []byte("event: ")):
			event = string(bytes.TrimSpace(line[len("event: "):]))
		case bytes.HasPrefix(line, []byte("data: ")):
			fn(event, line[len("data: "):])
			switch event {
			case "done":
				return nil
			case "fault":
				return fmt.Errorf("stream fault: %s", line)
			}
		}
	}
}

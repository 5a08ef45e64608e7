package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

var execIDPattern = regexp.MustCompile(`^exec-[0-9a-f]{12}$`)

// call sends a JSON request with the test's owner and decodes a JSON
// answer (nil when the body is not a JSON object).
func (b *bay) call(method, path string, body any, headers ...string) (int, http.Header, map[string]any) {
	b.t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(b.t, err)
		r = strings.NewReader(string(data))
		headers = append(headers, "Content-Type", "application/json")
	}
	status, hdr, data := b.raw(method, path, r, headers...)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return status, hdr, out
}

// newSandbox creates a sandbox of profile and returns its id.
func (b *bay) newSandbox(profile string, extra ...string) string {
	b.t.Helper()
	body := map[string]any{"profile": profile}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	status, _, out := b.call("POST", "/v1/sandboxes", body)
	require.Equal(b.t, http.StatusCreated, status, "%v", out)
	return out["id"].(string)
}

// sseEvent is one Server-Sent Event and when it arrived.
type sseEvent struct {
	Name string
	Data map[string]any
	At   time.Time
}

// sseStream is an open event stream.
type sseStream struct {
	resp   *http.Response
	r      *bufio.Reader
	Status int
	// Comments counts ": keepalive" lines.
	Comments int
}

// stream posts body to path and returns the open stream; a status other
// than 200 is returned with the body read into Err.
func (b *bay) stream(path string, body any) (*sseStream, map[string]any) {
	b.t.Helper()
	data, err := json.Marshal(body)
	require.NoError(b.t, err)
	req, err := http.NewRequest("POST", b.URL+path, strings.NewReader(string(data)))
	require.NoError(b.t, err)
	req.Header.Set("X-Owner", b.Owner)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return &sseStream{Status: resp.StatusCode}, out
	}
	require.Equal(b.t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(b.t, "no-store", resp.Header.Get("Cache-Control"))
	return &sseStream{resp: resp, r: bufio.NewReaderSize(resp.Body, 1<<20), Status: 200}, nil
}

// next reads the next event; ok is false at the end of the stream.
func (s *sseStream) next(t *testing.T) (sseEvent, bool) {
	t.Helper()
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err == io.EOF {
			return ev, false
		}
		require.NoError(t, err)
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.Name != "" {
				return ev, true
			}
		case strings.HasPrefix(line, ": keepalive"):
			s.Comments++
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
			ev.At = time.Now()
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data), "line %q", line)
		}
	}
}

// all reads every event to the end.
func (s *sseStream) all(t *testing.T) []sseEvent {
	t.Helper()
	defer s.resp.Body.Close()
	var evs []sseEvent
	for {
		ev, ok := s.next(t)
		if !ok {
			return evs
		}
		evs = append(evs, ev)
	}
}

func (s *sseStream) close() { s.resp.Body.Close() }

func names(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

func texts(evs []sseEvent, name string) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Name == name {
			b.WriteString(e.Data["text"].(string))
		}
	}
	return b.String()
}

// waitExecution polls an execution with ?wait= until it is no longer
// running.
func (b *bay) waitExecution(sandboxID, id string) map[string]any {
	b.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		status, _, out := b.call("GET", "/v1/sandboxes/"+sandboxID+"/executions/"+id+"?wait=30", nil)
		require.Equal(b.t, http.StatusOK, status, "%v", out)
		if out["status"] != "running" {
			return out
		}
		require.True(b.t, time.Now().Before(deadline), "execution %s still running", id)
	}
}

// TestExecutionHistory covers agent-reach.md §1.7 on each database.
func TestExecutionHistory(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			sb := b.newSandbox("python-default")
			base := "/v1/sandboxes/" + sb

			status, hdr, body := b.raw("GET", base+"/executions/last", nil)
			envelope(t, status, hdr, body, 404, "not_found")

			// A sync exec returns its id and time; the row matches.
			status, _, res := b.call("POST", base+"/python/exec", map[string]any{"code": "print(6*7)", "tags": "demo,x", "include_code": true})
			require.Equal(t, 200, status, "%v", res)
			eid := res["execution_id"].(string)
			require.Regexp(t, execIDPattern, eid)
			require.NotNil(t, res["execution_time_ms"])
			require.Equal(t, "print(6*7)", res["code"])
			status, _, row := b.call("GET", base+"/executions/"+eid, nil)
			require.Equal(t, 200, status)
			require.Equal(t, "finished", row["status"])
			require.Equal(t, true, row["success"])
			require.Equal(t, "42", row["output"])
			require.Equal(t, []any{"demo", "x"}, row["tags"])
			require.Equal(t, "sync", row["mode"])
			require.Equal(t, "python", row["kind"])
			require.Equal(t, res["execution_time_ms"], row["execution_time_ms"])

			status, _, list := b.call("GET", base+"/executions?kind=python&tags=demo", nil)
			require.Equal(t, 200, status)
			items := list["items"].([]any)
			require.Len(t, items, 1)
			require.Equal(t, "42", items[0].(map[string]any)["output"])
			require.NotContains(t, items[0].(map[string]any), "images")
			_, _, list = b.call("GET", base+"/executions?tags=dem", nil)
			require.Empty(t, list["items"])

			// More rows: a failure, a shell command, tags that look alike.
			_, _, r2 := b.call("POST", base+"/python/exec", map[string]any{"code": "1/0", "tags": []string{"testing"}, "description": "boom"})
			require.Equal(t, false, r2["success"])
			_, _, r3 := b.call("POST", base+"/shell/exec", map[string]any{"command": "echo hi", "tags": []string{"test", "a_b"}})
			require.Equal(t, true, r3["success"])
			_, _, r4 := b.call("POST", base+"/python/exec", map[string]any{"code": "x = 1"})
			_, _, r5 := b.call("POST", base+"/shell/exec", map[string]any{"command": "exit 2"})
			ids := []string{eid, r2["execution_id"].(string), r3["execution_id"].(string), r4["execution_id"].(string), r5["execution_id"].(string)}

			_, _, list = b.call("GET", base+"/executions?tags=test", nil)
			require.Equal(t, []string{ids[2]}, itemIDs(list))
			_, _, list = b.call("GET", base+"/executions?tags=a_b,test", nil)
			require.Equal(t, []string{ids[2]}, itemIDs(list))
			_, _, list = b.call("GET", base+"/executions?tags=ab", nil)
			require.Empty(t, itemIDs(list))
			_, _, list = b.call("GET", base+"/executions?success=false&kind=python", nil)
			require.Equal(t, []string{ids[1]}, itemIDs(list))
			_, _, list = b.call("GET", base+"/executions?kind=shell", nil)
			require.Equal(t, []string{ids[4], ids[2]}, itemIDs(list))
			_, _, list = b.call("GET", base+"/executions?has_description=true", nil)
			require.Equal(t, []string{ids[1]}, itemIDs(list))
			_, _, list = b.call("GET", base+"/executions?status=finished&limit=200", nil)
			require.Len(t, itemIDs(list), 5)
			future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
			_, _, list = b.call("GET", base+"/executions?since="+future, nil)
			require.Empty(t, itemIDs(list))
			_, _, list = b.call("GET", base+"/executions?until="+future, nil)
			require.Len(t, itemIDs(list), 5)

			// Paging with limit=2 walks every row once, in both orders.
			for _, order := range []string{"desc", "asc"} {
				var seen []string
				cursor := ""
				for pages := 0; ; pages++ {
					require.Less(t, pages, 10)
					q := base + "/executions?limit=2&order=" + order
					if cursor != "" {
						q += "&cursor=" + url.QueryEscape(cursor)
					}
					status, _, page := b.call("GET", q, nil)
					require.Equal(t, 200, status, "%v", page)
					seen = append(seen, itemIDs(page)...)
					next, _ := page["next_cursor"].(string)
					if next == "" {
						break
					}
					cursor = next
				}
				want := ids
				if order == "desc" {
					want = reversed(ids)
				}
				require.Equal(t, want, seen, order)
			}

			// Bad query values are 422.
			for _, q := range []string{"kind=perl", "status=done", "success=maybe", "since=yesterday", "cursor=%21%21", "limit=0", "limit=201", "order=up"} {
				status, hdr, body := b.raw("GET", base+"/executions?"+q, nil)
				envelope(t, status, hdr, body, 422, "validation_error")
			}

			// last, with and without kind.
			_, _, last := b.call("GET", base+"/executions/last", nil)
			require.Equal(t, ids[4], last["id"])
			_, _, last = b.call("GET", base+"/executions/last?kind=python", nil)
			require.Equal(t, ids[3], last["id"])

			// PATCH: set, keep (absent), clear (null).
			status, _, p := b.call("PATCH", base+"/executions/"+eid, map[string]any{"description": "d", "notes": "n"})
			require.Equal(t, 200, status, "%v", p)
			require.Equal(t, "d", p["description"])
			require.Equal(t, []any{"demo", "x"}, p["tags"])
			_, _, p = b.call("PATCH", base+"/executions/"+eid, map[string]any{"notes": "keep", "tags": nil})
			require.Equal(t, "keep", p["notes"])
			require.Equal(t, []any{}, p["tags"])
			require.Equal(t, "d", p["description"])
			_, _, p = b.call("PATCH", base+"/executions/"+eid, map[string]any{"description": nil}, "Content-Type", "application/merge-patch+json")
			require.Nil(t, p["description"])
			require.Equal(t, "keep", p["notes"])
			_, _, p = b.call("PATCH", base+"/executions/"+eid, map[string]any{})
			require.Equal(t, "keep", p["notes"])
			status, hdr, body = b.raw("PATCH", base+"/executions/"+eid, strings.NewReader(`{"tags":["bad tag"]}`), "Content-Type", "application/json")
			envelope(t, status, hdr, body, 422, "validation_error")

			// Bounds: 200 KB of output is stored as 16 KiB + marker + 48
			// KiB, never splitting a character; the answer has it all.
			status, _, big := b.call("POST", base+"/python/exec", map[string]any{"code": "print('é' * 100000)"})
			require.Equal(t, 200, status)
			require.Equal(t, strings.Repeat("é", 100000), big["output"])
			_, _, row = b.call("GET", base+"/executions/"+big["execution_id"].(string), nil)
			require.Equal(t, true, row["output_truncated"])
			require.EqualValues(t, 200000, row["output_bytes"])
			stored := row["output"].(string)
			require.True(t, utf8.ValidString(stored))
			require.Contains(t, stored, "bytes omitted]…")
			require.LessOrEqual(t, len(stored), 64<<10+64)

			// A NUL byte (which Postgres text cannot hold) is stored as U+FFFD.
			status, _, nul := b.call("POST", base+"/shell/exec", map[string]any{"command": `printf 'a\0b'`})
			require.Equal(t, 200, status, "%v", nul)
			require.Equal(t, "a\x00b", nul["output"])
			_, _, row = b.call("GET", base+"/executions/"+nul["execution_id"].(string), nil)
			require.Equal(t, "finished", row["status"])
			require.Equal(t, "a\uFFFDb", row["output"])

			// Another owner, or the wrong sandbox in the path: 404.
			other := startBayClientAs(b, "intruder-"+randHex(3))
			for _, path := range []string{base + "/executions", base + "/executions/" + eid, base + "/executions/last", base + "/history"} {
				status, hdr, body = other.raw("GET", path, nil)
				envelope(t, status, hdr, body, 404, "not_found")
			}
			status, hdr, body = other.raw("PATCH", base+"/executions/"+eid, strings.NewReader(`{"notes":"x"}`), "Content-Type", "application/json")
			envelope(t, status, hdr, body, 404, "not_found")
			sb2 := b.newSandbox("python-default")
			status, hdr, body = b.raw("GET", "/v1/sandboxes/"+sb2+"/executions/"+eid, nil)
			envelope(t, status, hdr, body, 404, "not_found")
			require.Contains(t, string(body), "Execution not found: "+eid)

			// The original project's /history routes.
			status, _, h := b.call("GET", base+"/history?exec_type=shell&limit=1", nil)
			require.Equal(t, 200, status, "%v", h)
			require.EqualValues(t, 3, h["total"])
			entries := h["entries"].([]any)
			require.Len(t, entries, 1)
			require.Equal(t, "shell", entries[0].(map[string]any)["exec_type"])
			_, _, h = b.call("GET", base+"/history?success_only=true&offset=1&limit=500", nil)
			require.EqualValues(t, 5, h["total"])
			require.Len(t, h["entries"], 4)
			_, _, e := b.call("GET", base+"/history/"+ids[2], nil)
			require.Equal(t, "a_b,test", e["tags"])
			_, _, e = b.call("GET", base+"/history/last?exec_type=python", nil)
			require.Equal(t, big["execution_id"], e["id"])

			// Ship killed under Bay: 502 naming a lost row.
			done := make(chan map[string]any, 1)
			go func() {
				_, _, out := b.call("POST", base+"/python/exec", map[string]any{"code": "import time; time.sleep(60)", "timeout": 120})
				done <- out
			}()
			waitRunning(t, b, sb)
			for _, c := range containersOf(t, sb) {
				require.NoError(t, exec.Command("docker", "kill", c).Run())
			}
			failed := <-done
			errBody := failed["error"].(map[string]any)
			require.Equal(t, "ship_error", errBody["code"], "%v", failed)
			lostID := errBody["details"].(map[string]any)["execution_id"].(string)
			_, _, row = b.call("GET", base+"/executions/"+lostID, nil)
			require.Equal(t, "lost", row["status"])
			require.Equal(t, "ship_error", row["error_code"])
			require.Nil(t, row["success"])
		})
	}
}

// waitRunning waits until the sandbox has a running execution.
func waitRunning(t *testing.T, b *bay, sandboxID string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, _, list := b.call("GET", "/v1/sandboxes/"+sandboxID+"/executions?status=running", nil)
		if ids := itemIDs(list); len(ids) > 0 {
			time.Sleep(300 * time.Millisecond) // let the call reach the kernel
			return ids[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no running execution")
	return ""
}

// startBayClientAs is b seen by another owner.
func startBayClientAs(b *bay, owner string) *bay {
	c := *b
	c.Owner = owner
	return &c
}

func itemIDs(list map[string]any) []string {
	items, _ := list["items"].([]any)
	out := []string{}
	for _, it := range items {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// TestExecStream covers agent-reach.md §2.8's streaming part.
func TestExecStream(t *testing.T) {
	requireImages(t, "ship:latest", "ship:data")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine, env: []string{"BAY_EXEC__STREAM_HEARTBEAT_SECONDS=1"}})
			sb := b.newSandbox("python-default")
			base := "/v1/sandboxes/" + sb

			// Three prints a second apart arrive a second apart.
			s, _ := b.stream(base+"/python/exec/stream", map[string]any{"code": "import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(1)"})
			evs := s.all(t)
			require.Equal(t, []string{"start", "stdout", "stdout", "stdout", "done"}, names(evs))
			eid := evs[0].Data["execution_id"].(string)
			require.Regexp(t, execIDPattern, eid)
			require.Equal(t, eid, evs[4].Data["execution_id"])
			require.Equal(t, "finished", evs[4].Data["status"])
			require.Equal(t, true, evs[4].Data["success"])
			require.Equal(t, "0\n", evs[1].Data["text"])
			require.Greater(t, evs[3].At.Sub(evs[1].At), 1500*time.Millisecond, "output came at the end, not as it was printed")
			row := b.waitExecution(sb, eid)
			require.Equal(t, "0\n1\n2", row["output"])
			require.Equal(t, "stream", row["mode"])

			// A quiet cell gets heartbeats.
			s, _ = b.stream(base+"/python/exec/stream", map[string]any{"code": "import time; time.sleep(3)"})
			evs = s.all(t)
			require.Equal(t, []string{"start", "done"}, names(evs))
			require.GreaterOrEqual(t, s.Comments, 1)

			// A plot, a bare expression, an exception.
			data := b.newSandbox("python-data")
			s, _ = b.stream("/v1/sandboxes/"+data+"/python/exec/stream", map[string]any{"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()\n6*7"})
			evs = s.all(t)
			var png, result bool
			for _, e := range evs {
				if e.Name == "display_data" {
					_, png = e.Data["data"].(map[string]any)["image/png"].(string)
				}
				if e.Name == "result" {
					result = e.Data["data"].(map[string]any)["text/plain"] == "42"
				}
			}
			require.True(t, png, "%v", names(evs))
			require.True(t, result, "%v", names(evs))
			s, _ = b.stream(base+"/python/exec/stream", map[string]any{"code": "1/0"})
			evs = s.all(t)
			require.Equal(t, []string{"start", "error", "done"}, names(evs))
			require.Equal(t, "ZeroDivisionError", evs[1].Data["ename"])
			require.Equal(t, false, evs[2].Data["success"])

			// Shell: separate streams, exit code, bad bytes, split characters.
			s, _ = b.stream(base+"/shell/exec/stream", map[string]any{"command": "echo out; echo err >&2; printf '\\xff\\n'; printf '\\xe2\\x82'; sleep 0.3; printf '\\xac\\n'; exit 3"})
			evs = s.all(t)
			require.Equal(t, "start", evs[0].Name)
			done := evs[len(evs)-1]
			require.Equal(t, "done", done.Name)
			require.EqualValues(t, 3, done.Data["exit_code"])
			require.Equal(t, false, done.Data["success"])
			out := texts(evs, "stdout")
			require.Equal(t, "out\n\uFFFD\n€\n", out)
			require.Equal(t, "err\n", texts(evs, "stderr"))

			// Errors before the stream keep their statuses.
			s, body := b.stream("/v1/sandboxes/sandbox-000000000000/python/exec/stream", map[string]any{"code": "1"})
			require.Equal(t, 404, s.Status, "%v", body)
			s, body = b.stream(base+"/python/exec/stream", map[string]any{"code": "1", "timeout": 3601})
			require.Equal(t, 422, s.Status, "%v", body)
			only := b.newSandbox("python-only-test")
			s, body = b.stream("/v1/sandboxes/"+only+"/shell/exec/stream", map[string]any{"command": "true"})
			require.Equal(t, 400, s.Status, "%v", body)
			require.Equal(t, "capability_not_supported", body["error"].(map[string]any)["code"])
			_, _, ex := b.call("POST", "/v1/sandboxes", map[string]any{"profile": "python-default", "ttl": 1})
			time.Sleep(1500 * time.Millisecond)
			s, body = b.stream("/v1/sandboxes/"+ex["id"].(string)+"/python/exec/stream", map[string]any{"code": "1"})
			require.Equal(t, 409, s.Status, "%v", body)

			// A client that leaves after the first event: the execution goes
			// on, its result lands in the row, and idle GC spares the
			// container meanwhile.
			short := b.newSandbox("short-idle-test")
			s, _ = b.stream("/v1/sandboxes/"+short+"/shell/exec/stream", map[string]any{"command": "sleep 5; echo late"})
			first, ok := s.next(t)
			require.True(t, ok)
			require.Equal(t, "start", first.Name)
			s.close()
			time.Sleep(3 * time.Second) // past the profile's 2 s idle timeout
			status, _, _ := b.call("POST", "/v1/admin/gc/run", map[string]any{"tasks": []string{"idle_session"}})
			require.Equal(t, 200, status)
			require.NotEmpty(t, containersOf(t, short), "idle GC reclaimed a sandbox with a running execution")
			row = b.waitExecution(short, first.Data["execution_id"].(string))
			require.Equal(t, "finished", row["status"])
			require.Equal(t, "late\n", row["output"])
		})
	}
}

// TestExecAsync covers agent-reach.md §2.8's async part and §2.6.
func TestExecAsync(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			sb := b.newSandbox("python-default")
			base := "/v1/sandboxes/" + sb
			python(t, b, sb, "survivor = 41")

			status, hdr, job := b.call("POST", base+"/python/exec/async", map[string]any{"code": "import time; time.sleep(60)", "timeout": 600}, "Idempotency-Key", "j1")
			require.Equal(t, 202, status, "%v", job)
			jid := job["id"].(string)
			require.Equal(t, base+"/executions/"+jid, hdr.Get("Location"))
			require.Equal(t, "running", job["status"])
			require.Equal(t, "async", job["mode"])
			status, _, again := b.call("POST", base+"/python/exec/async", map[string]any{"code": "import time; time.sleep(60)", "timeout": 600}, "Idempotency-Key", "j1")
			require.Equal(t, 202, status)
			require.Equal(t, jid, again["id"])
			_, _, list := b.call("GET", base+"/executions?kind=python&status=running", nil)
			require.Equal(t, []string{jid}, itemIDs(list), "the replay ran something")

			// The kernel is busy: python is refused, shell is not.
			status, hdr, body := b.raw("POST", base+"/python/exec", strings.NewReader(`{"code":"1"}`), "Content-Type", "application/json")
			d := envelope(t, status, hdr, body, 409, "conflict")
			require.Equal(t, "kernel_busy", d["reason"])
			require.Equal(t, jid, d["running_execution_id"])
			require.Equal(t, "ok", strings.TrimSpace(shell(t, b, sb, "echo ok", nil).Output))

			// Cancel: cancelled within 5 s, state kept.
			time.Sleep(500 * time.Millisecond)
			began := time.Now()
			status, _, c := b.call("POST", base+"/executions/"+jid+"/cancel", nil)
			require.Equal(t, 202, status, "%v", c)
			row := b.waitExecution(sb, jid)
			require.Equal(t, "cancelled", row["status"])
			require.Less(t, time.Since(began), 5*time.Second)
			require.Equal(t, "41", python(t, b, sb, "print(survivor)").Output)
			status, hdr, body = b.raw("POST", base+"/executions/"+jid+"/cancel", nil)
			envelope(t, status, hdr, body, 409, "conflict")

			// ?wait= answers as soon as the execution ends.
			status, _, job = b.call("POST", base+"/shell/exec/async", map[string]any{"command": "sleep 1; echo done", "timeout": 30})
			require.Equal(t, 202, status)
			began = time.Now()
			_, _, row = b.call("GET", base+"/executions/"+job["id"].(string)+"?wait=30", nil)
			require.Equal(t, "finished", row["status"])
			require.Equal(t, "done\n", row["output"])
			require.Less(t, time.Since(began), 10*time.Second)
			status, hdr, body = b.raw("GET", base+"/executions/"+job["id"].(string)+"?wait=61", nil)
			envelope(t, status, hdr, body, 422, "validation_error")
		})
	}
}

// TestGCExecutionHistory: rows of deleted sandboxes and rows over the cap
// go; a row left running by a killed Bay is lost after its restart.
func TestGCExecutionHistory(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			opts := bayOpts{engine: engine, env: []string{"BAY_HISTORY__MAX_PER_SANDBOX=3"}}
			opts.db = newDatabase(t, engine)
			b := startBay(t, opts)
			keep := b.newSandbox("python-default")
			gone := b.newSandbox("python-default")
			for i := range 5 {
				shell(t, b, keep, fmt.Sprintf("echo %d", i), nil)
			}
			shell(t, b, gone, "echo bye", nil)
			status, _, _ := b.call("DELETE", "/v1/sandboxes/"+gone, nil)
			require.Equal(t, 204, status)
			status, _, rep := b.call("POST", "/v1/admin/gc/run", map[string]any{"tasks": []string{"execution_history"}})
			require.Equal(t, 200, status, "%v", rep)
			r := rep["results"].([]any)[0].(map[string]any)
			require.Equal(t, "execution_history", r["task_name"])
			require.EqualValues(t, 3, r["cleaned_count"]) // 2 over the cap + 1 of the deleted sandbox
			_, _, list := b.call("GET", "/v1/sandboxes/"+keep+"/executions", nil)
			require.Len(t, itemIDs(list), 3)
			_, _, st := b.call("GET", "/v1/admin/gc/status", nil)
			require.Equal(t, map[string]any{"enabled": true}, st["tasks"].(map[string]any)["execution_history"])

			// kill -9 with an execution running; the restart marks it lost.
			status, _, job := b.call("POST", "/v1/sandboxes/"+keep+"/shell/exec/async", map[string]any{"command": "sleep 60", "timeout": 120})
			require.Equal(t, 202, status)
			b.kill()
			opts.instance = b.Instance
			b2 := startBay(t, opts)
			b2.Owner = b.Owner
			_, _, row := b2.call("GET", "/v1/sandboxes/"+keep+"/executions/"+job["id"].(string), nil)
			require.Equal(t, "lost", row["status"], "%v", row)
			require.Equal(t, "internal_error", row["error_code"])
			require.Equal(t, "Bay restarted during the execution", row["error"])
		})
	}
}

// TestSandboxCapabilities covers agent-reach.md §6's Bay part.
func TestSandboxCapabilities(t *testing.T) {
	requireImages(t, "ship:latest")
	b := startBay(t, bayOpts{engine: "sqlite"})
	first := b.newSandbox("python-default")
	status, _, doc := b.call("GET", "/v1/sandboxes/"+first+"/capabilities", nil)
	require.Equal(t, 200, status, "%v", doc)
	require.Equal(t, first, doc["sandbox_id"])
	rt := doc["runtime"].(map[string]any)
	ops := rt["capabilities"].(map[string]any)["python"].(map[string]any)["operations"].([]any)
	require.Contains(t, ops, "exec_stream")
	require.ElementsMatch(t, []any{"filesystem", "shell", "python", "terminal"}, doc["effective"])
	limits := rt["limits"].(map[string]any)
	require.EqualValues(t, 1<<30, limits["memory_bytes"])

	// Another sandbox of the same image answers with no container started.
	second := b.newSandbox("python-only-test")
	status, _, doc = b.call("GET", "/v1/sandboxes/"+second+"/capabilities", nil)
	require.Equal(t, 200, status, "%v", doc)
	require.Empty(t, containersOf(t, second))
	require.Equal(t, []any{"python"}, doc["effective"])

	status, hdr, body := b.raw("GET", "/v1/sandboxes/sandbox-000000000000/capabilities", nil)
	envelope(t, status, hdr, body, 404, "not_found")
}

package browser

import (
	"fmt"
	"testing"
)

// The benchmarks run browserd in-process with the host's Chromium and go
// through its HTTP API, as Bay does (without Bay's own hop). browser.md §7
// lists the targets: navigate ≤ 0.5 s, snapshot/fill/click ≤ 100 ms, a
// round trip ≤ 10 ms at p50.

func BenchmarkExec_GetURL(b *testing.B) {
	r := startRuntime(b, "")
	ok(b, r.do(b, `{"command":{"action":"navigate","url":"data:text/html,<title>x</title>"}}`))
	b.ResetTimer()
	for b.Loop() {
		ok(b, r.do(b, `{"cmd":"get url"}`))
	}
}

func BenchmarkExec_NavigateSnapshot(b *testing.B) {
	r := startRuntime(b, "")
	web := site(b)
	b.ResetTimer()
	for b.Loop() {
		ok(b, r.do(b, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web.URL+"/form.html")))
		ok(b, r.do(b, `{"cmd":"snapshot -i"}`))
	}
}

func BenchmarkExec_FillClick(b *testing.B) {
	r := startRuntime(b, "")
	web := site(b)
	ok(b, r.do(b, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web.URL+"/form.html")))
	b.ResetTimer()
	for b.Loop() {
		ok(b, r.do(b, `{"command":{"action":"fill","selector":"#name","text":"Ada"}}`))
		ok(b, r.do(b, `{"command":{"action":"click","selector":"#send"}}`))
	}
}

func BenchmarkExec_Screenshot(b *testing.B) {
	r := startRuntime(b, "")
	web := site(b)
	ok(b, r.do(b, fmt.Sprintf(`{"command":{"action":"navigate","url":%q}}`, web.URL+"/form.html")))
	b.ResetTimer()
	for b.Loop() {
		ok(b, r.do(b, `{"command":{"action":"screenshot"}}`))
	}
}

func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		r := startRuntime(b, "")
		r.stop(b)
	}
}

// Package browser is the browser runtime, browserd (browser.md §3, §5.1):
// one Chromium (Debian's chromium-headless-shell) per session, driven
// through chromedp over a pipe (--remote-debugging-pipe, never a port),
// behind the HTTP API of browser/wire.
//
// The Engine owns Chromium: it starts it with a blank tab (then /health
// answers 200), runs one command at a time in FIFO order, keeps the tabs,
// the element refs of snapshots (stable for the life of a document),
// dialogs and downloads, relaunches Chromium with backoff when it dies,
// and closes it gracefully on Stop so that the profile on the Locker is
// flushed. The Server is the HTTP side: the runtime token, /meta and the
// two exec routes.
//
// It imports the standard library, browser/wire, chromedp and cdproto.
package browser

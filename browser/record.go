package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"

	"github.com/bayhq/bay/browser/wire"
)

// recorder collects the dialogs and downloads of one command (or, as the
// backlog, of the time between commands).
type recorder struct {
	policy    *wire.DialogPolicy
	dialogs   []wire.Dialog
	downloads []wire.Download
}

// maxBacklog bounds what is kept between commands.
const maxBacklog = 50

// begin starts recording for a command; what happened since the last
// command is reported with this one.
func (e *Engine) begin(policy *wire.DialogPolicy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rec = &recorder{policy: policy, dialogs: e.backlog.dialogs, downloads: e.backlog.downloads}
	e.backlog = recorder{}
}

// end stops recording and returns what the command saw.
func (e *Engine) end() ([]wire.Dialog, []wire.Download) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := e.rec
	e.rec = nil
	if rec == nil {
		return []wire.Dialog{}, []wire.Download{}
	}
	d, dl := rec.dialogs, rec.downloads
	if d == nil {
		d = []wire.Dialog{}
	}
	if dl == nil {
		dl = []wire.Download{}
	}
	return d, dl
}

// answerDialog answers a JavaScript dialog at once (browser.md §3.2):
// alert and beforeunload are accepted, confirm and prompt dismissed,
// unless the running command's dialog policy says otherwise.
func (e *Engine) answerDialog(t *tab, ev *page.EventJavascriptDialogOpening) {
	e.mu.Lock()
	var policy *wire.DialogPolicy
	if e.rec != nil {
		policy = e.rec.policy
	}
	e.mu.Unlock()
	accept := ev.Type == page.DialogTypeAlert || ev.Type == page.DialogTypeBeforeunload
	var text *string
	if policy != nil {
		if policy.Accept != nil {
			accept = *policy.Accept
		}
		text = policy.PromptText
	}
	params := page.HandleJavaScriptDialogParams{Accept: accept}
	var answered *string
	if accept && ev.Type == page.DialogTypePrompt {
		v := ev.DefaultPrompt
		if text != nil {
			v = *text
		}
		params.PromptText = v
		answered = &v
	}
	// Recorded before it is answered: the command that opened the dialog
	// (a click) returns as soon as Chromium has the answer, possibly before
	// this call's own reply arrives, and must find the dialog recorded.
	e.note(func(r *recorder) {
		r.dialogs = append(r.dialogs, wire.Dialog{
			Type: string(ev.Type), Message: ev.Message, URL: ev.URL, Accepted: accept, PromptText: answered,
		})
	})
	ctx, cancel := context.WithTimeout(t.inst.rootCtx, 5*time.Second)
	defer cancel()
	if _, err := cdp.Call(ctx, t.target, page.HandleJavaScriptDialog, params); err != nil {
		e.log.Warn("could not answer a dialog", "type", ev.Type, "err", err)
	}
}

// note records into the running command's recorder, or the backlog.
func (e *Engine) note(f func(*recorder)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec != nil {
		f(e.rec)
		return
	}
	f(&e.backlog)
	if n := len(e.backlog.dialogs); n > maxBacklog {
		e.backlog.dialogs = e.backlog.dialogs[n-maxBacklog:]
	}
	if n := len(e.backlog.downloads); n > maxBacklog {
		e.backlog.downloads = e.backlog.downloads[n-maxBacklog:]
	}
}

// downloadDir is where Chromium saves downloads.
func (e *Engine) downloadDir() string { return filepath.Join(e.cfg.Workspace, "downloads") }

// allowDownloads lets the browser save downloads into the workspace and
// report them. Chromium names each file by its download's GUID
// (allowAndName): the headless shell would otherwise overwrite a file of
// the same name, and a page could pick a name. When a download completes,
// finishDownload gives it the server's name, with " (1)" and so on when
// that is taken.
func (e *Engine) allowDownloads(ctx context.Context, i *instance) error {
	events := true
	_, err := cdp.Call(ctx, i.browser, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: e.downloadDir(), EventsEnabled: &events,
	})
	return err
}

// downloadName makes a server's file name safe as a name in the
// downloads directory.
func downloadName(suggested string) string {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r < 0x20 {
			return '_'
		}
		return r
	}, suggested)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		name = "download"
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// finishDownload moves a completed download from its GUID name to the
// server's name, never over an existing file: "a.csv", "a (1).csv", ….
func (e *Engine) finishDownload(file, suggested string) string {
	dir := filepath.Dir(file)
	name := downloadName(suggested)
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 0; n < 1000; n++ {
		candidate := name
		if n > 0 {
			candidate = fmt.Sprintf("%s (%d)%s", stem, n, ext)
		}
		dst := filepath.Join(dir, candidate)
		// A hard link does not replace an existing file.
		if err := os.Link(file, dst); err == nil {
			_ = os.Remove(file)
			return dst
		} else if !errors.Is(err, os.ErrExist) {
			e.log.Warn("could not name a download", "file", file, "name", candidate, "err", err)
			return file
		}
	}
	return file
}

// pendingDownload is a download that began.
type pendingDownload struct {
	url, name string
}

// onDownloadEvent records a download when it ends. It runs on chromedp's
// reading goroutine.
func (e *Engine) onDownloadEvent(ev any) {
	switch ev := ev.(type) {
	case *browser.EventDownloadWillBegin:
		e.mu.Lock()
		if e.pending == nil {
			e.pending = map[string]pendingDownload{}
		}
		e.pending[ev.GUID] = pendingDownload{url: ev.URL, name: ev.SuggestedFilename}
		e.mu.Unlock()
	case *browser.EventDownloadProgress:
		if ev.State != browser.DownloadProgressStateCompleted && ev.State != browser.DownloadProgressStateCanceled {
			return
		}
		e.mu.Lock()
		p := e.pending[ev.GUID]
		delete(e.pending, ev.GUID)
		e.mu.Unlock()
		file := ev.FilePath
		if file == "" {
			file = filepath.Join(e.downloadDir(), ev.GUID)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = e.finishDownload(file, p.name)
		} else {
			_ = os.Remove(file)
		}
		d := wire.Download{Path: e.relative(file), Size: int64(ev.ReceivedBytes), State: string(ev.State), URL: p.url}
		if fi, err := os.Stat(file); err == nil && ev.State == browser.DownloadProgressStateCompleted {
			d.Size = fi.Size()
		}
		e.note(func(r *recorder) { r.downloads = append(r.downloads, d) })
		e.mu.Lock()
		e.downloads++
		close(e.downloadSeen)
		e.downloadSeen = make(chan struct{})
		e.mu.Unlock()
	}
}

// relative turns an absolute path under the workspace into the form
// commands use ("downloads/a.csv").
func (e *Engine) relative(abs string) string {
	if rel, err := filepath.Rel(e.cfg.Workspace, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return abs
}

// downloadCount returns the number of finished downloads and a channel
// closed at the next.
func (e *Engine) downloadCount() (int, <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.downloads, e.downloadSeen
}

// currentViewport is the viewport every tab gets.
func (e *Engine) currentViewport() viewport {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.viewport
}

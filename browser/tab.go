package browser

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// keptLoaders bounds the documents a tab remembers lifecycle events and
// statuses for.
const keptLoaders = 8

// tab is one page target: its chromedp target, what its events say
// (document, lifecycle, requests in flight) and the refs of its
// snapshots. The event handler runs on chromedp's reading goroutine and
// only records under mu; waiters poll or wait on changed.
type tab struct {
	inst     *instance
	id       string
	targetID target.ID
	ctx      context.Context
	// cancel closes the tab; nil for the first tab, whose context is the
	// browser's.
	cancel context.CancelFunc
	target *chromedp.Target

	mu sync.Mutex
	// changed is closed and replaced on every recorded event.
	changed    chan struct{}
	url, title string
	frameID    cdp.FrameID
	loaderID   cdp.LoaderID
	// navEpoch counts main-frame commits, same-document ones included.
	navEpoch int
	// pendingNav is set when the main frame starts a navigation and
	// cleared when it commits or stops.
	pendingNav  bool
	lifecycle   map[cdp.LoaderID]map[string]bool
	loaderOrder []cdp.LoaderID
	docRequest  map[network.RequestID]cdp.LoaderID
	docStatus   map[cdp.LoaderID]int64
	docError    map[cdp.LoaderID]string
	inflight    map[network.RequestID]struct{}
	lastNet     time.Time
	crashed     bool
	closed      bool
	// downloadAsked counts navigations the page asked to download.
	downloadAsked int
	// refs maps a ref to its element: the backend node and the document
	// it was seen in; nodeRefs gives the ref of a node per document.
	refs     map[string]refEntry
	nodeRefs map[cdp.LoaderID]map[cdp.BackendNodeID]string
}

type refEntry struct {
	loader cdp.LoaderID
	node   cdp.BackendNodeID
}

func (i *instance) newTabState(targetID target.ID) *tab {
	return &tab{
		inst:       i,
		targetID:   targetID,
		frameID:    cdp.FrameID(targetID),
		changed:    make(chan struct{}),
		lifecycle:  map[cdp.LoaderID]map[string]bool{},
		docRequest: map[network.RequestID]cdp.LoaderID{},
		docStatus:  map[cdp.LoaderID]int64{},
		docError:   map[cdp.LoaderID]string{},
		inflight:   map[network.RequestID]struct{}{},
		refs:       map[string]refEntry{},
		nodeRefs:   map[cdp.LoaderID]map[cdp.BackendNodeID]string{},
		lastNet:    time.Now(),
	}
}

// attach records the chromedp target of the tab.
func (t *tab) attach(ctx context.Context, cancel context.CancelFunc, tg *chromedp.Target) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ctx, t.cancel, t.target = ctx, cancel, tg
	t.targetID = tg.TargetID
	if t.frameID == "" {
		t.frameID = cdp.FrameID(tg.TargetID)
	}
}

// setup applies the viewport and reads the current document.
func (t *tab) setup(ctx context.Context) error {
	vp := t.inst.e.currentViewport()
	if err := t.applyViewport(ctx, vp); err != nil {
		return err
	}
	tree, err := cdp.Call(ctx, t.target, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := tree.FrameTree.Frame; f != nil {
		t.frameID = f.ID
		if t.loaderID == "" {
			t.loaderID = f.LoaderID
			t.url = f.URL
		}
	}
	return nil
}

func (t *tab) applyViewport(ctx context.Context, vp viewport) error {
	_, err := cdp.Call(ctx, t.target, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: int64(vp.width), Height: int64(vp.height), DeviceScaleFactor: vp.scale, Mobile: false,
	})
	return err
}

// broadcast wakes the waiters; t.mu is held.
func (t *tab) broadcast() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// onEvent records an event of the tab. It runs on chromedp's reading
// goroutine: it must not block or call the browser.
func (t *tab) onEvent(ev any) {
	if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
		// Answering is a call: not on this goroutine.
		go t.inst.e.answerDialog(t, d)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	main := func(id cdp.FrameID) bool { return id == t.frameID }
	switch ev := ev.(type) {
	case *page.EventFrameNavigated:
		if ev.Frame == nil || ev.Frame.ParentID != "" {
			return
		}
		t.frameID = ev.Frame.ID
		t.url = ev.Frame.URL
		if ev.Frame.LoaderID != t.loaderID {
			t.loaderID = ev.Frame.LoaderID
			t.keepLoader(ev.Frame.LoaderID)
		}
		t.navEpoch++
		t.pendingNav = false
	case *page.EventNavigatedWithinDocument:
		if !main(ev.FrameID) {
			return
		}
		t.url = ev.URL
		t.navEpoch++
	case *page.EventLifecycleEvent:
		if !main(ev.FrameID) || ev.LoaderID == "" {
			return
		}
		t.keepLoader(ev.LoaderID)
		t.lifecycle[ev.LoaderID][ev.Name] = true
	case *page.EventFrameRequestedNavigation:
		switch {
		case ev.Disposition == page.ClientNavigationDispositionDownload:
			t.downloadAsked++
		case main(ev.FrameID) && ev.Disposition == page.ClientNavigationDispositionCurrentTab:
			t.pendingNav = true
		}
	case *page.EventFrameStartedNavigating:
		if main(ev.FrameID) {
			t.pendingNav = true
		}
	case *page.EventFrameStoppedLoading:
		if main(ev.FrameID) {
			t.pendingNav = false
		}
	case *inspector.EventTargetCrashed:
		t.crashed = true
	case *network.EventRequestWillBeSent:
		t.inflight[ev.RequestID] = struct{}{}
		t.lastNet = time.Now()
		if ev.Type == network.ResourceTypeDocument && main(ev.FrameID) && ev.LoaderID != "" {
			t.docRequest[ev.RequestID] = ev.LoaderID
		}
	case *network.EventResponseReceived:
		if l, ok := t.docRequest[ev.RequestID]; ok && ev.Response != nil {
			t.keepLoader(l)
			t.docStatus[l] = ev.Response.Status
		}
	case *network.EventLoadingFinished:
		delete(t.inflight, ev.RequestID)
		delete(t.docRequest, ev.RequestID)
		t.lastNet = time.Now()
	case *network.EventLoadingFailed:
		delete(t.inflight, ev.RequestID)
		t.lastNet = time.Now()
		if l, ok := t.docRequest[ev.RequestID]; ok {
			t.keepLoader(l)
			t.docError[l] = ev.ErrorText
			delete(t.docRequest, ev.RequestID)
			// A navigation whose answer is an attachment is aborted as a
			// page load and goes on as a download.
			if ev.Canceled || strings.Contains(ev.ErrorText, "ERR_ABORTED") {
				t.downloadAsked++
			}
		}
	default:
		return
	}
	t.broadcast()
}

// keepLoader makes room for a document's records, forgetting the oldest;
// t.mu is held.
func (t *tab) keepLoader(l cdp.LoaderID) {
	if _, ok := t.lifecycle[l]; ok {
		return
	}
	t.lifecycle[l] = map[string]bool{}
	t.loaderOrder = append(t.loaderOrder, l)
	for len(t.loaderOrder) > keptLoaders {
		old := t.loaderOrder[0]
		t.loaderOrder = t.loaderOrder[1:]
		if old == t.loaderID {
			t.loaderOrder = append(t.loaderOrder, old)
			continue
		}
		delete(t.lifecycle, old)
		delete(t.docStatus, old)
		delete(t.docError, old)
	}
}

// snapshotState returns what waiters look at.
type tabState struct {
	url        string
	loaderID   cdp.LoaderID
	navEpoch   int
	pendingNav bool
	inflight   int
	downloads  int
	lastNet    time.Time
	crashed    bool
	closed     bool
}

func (t *tab) state() (tabState, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tabState{url: t.url, loaderID: t.loaderID, navEpoch: t.navEpoch, pendingNav: t.pendingNav,
		inflight: len(t.inflight), downloads: t.downloadAsked, lastNet: t.lastNet, crashed: t.crashed, closed: t.closed}, t.changed
}

// lifecycleSeen reports whether the document loader reached event name
// ("DOMContentLoaded", "load", "networkIdle").
func (t *tab) lifecycleSeen(l cdp.LoaderID, name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lifecycle[l][name]
}

// docOutcome returns the HTTP status and the network error of a document.
func (t *tab) docOutcome(l cdp.LoaderID) (int64, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.docStatus[l], t.docError[l]
}

// markClosed records that the target is gone.
func (t *tab) markClosed() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.broadcast()
	}
}

func (t *tab) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// setInfo records the URL and title the browser reports for the target.
func (t *tab) setInfo(url, title string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.title = title
	if url != "" {
		t.url = url
	}
}

func (t *tab) info() (url, title string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.url, t.title
}

// Tabs of an instance.

// addTab gives t the next id and adds it to the tab list; the first tab
// becomes active.
func (i *instance) addTab(t *tab) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.tabSeq++
	t.id = "t" + strconv.Itoa(i.tabSeq)
	i.tabs = append(i.tabs, t)
	if i.active == nil {
		i.active = t
	}
}

// tabByTarget finds the tab of a target.
func (i *instance) tabByTarget(id target.ID) *tab {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, t := range i.tabs {
		if t.targetID == id {
			return t
		}
	}
	return nil
}

// tabByID finds an open tab.
func (i *instance) tabByID(id string) *tab {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, t := range i.tabs {
		if t.id == id {
			return t
		}
	}
	return nil
}

// openTabs returns the tabs in id order.
func (i *instance) openTabs() []*tab {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.tabs)
}

// removeTab drops a closed tab; when it was active, the last tab becomes
// active.
func (i *instance) removeTab(t *tab) {
	t.markClosed()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.tabs = slices.DeleteFunc(i.tabs, func(x *tab) bool { return x == t })
	if i.active == t {
		i.active = nil
		if n := len(i.tabs); n > 0 {
			i.active = i.tabs[n-1]
		}
	}
}

// activeTab returns the active tab, opening a blank one when the pages
// closed them all.
func (i *instance) activeTab(ctx context.Context) (*tab, error) {
	i.mu.Lock()
	t := i.active
	i.mu.Unlock()
	if t != nil && !t.isClosed() {
		return t, nil
	}
	return i.openTab(ctx, false)
}

func (i *instance) setActive(t *tab) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.active = t
}

func (i *instance) isActive(t *tab) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.active == t
}

// openTab creates a blank tab and attaches to it; it becomes active when
// asked, or when it is the only one.
func (i *instance) openTab(ctx context.Context, activate bool) (*tab, error) {
	if n := len(i.openTabs()); n >= maxTabs {
		return nil, fmt.Errorf("%d tabs are open, the most there may be; close one first", n)
	}
	newWindow := true
	res, err := cdp.Call(ctx, i.browser, target.CreateTarget, target.CreateTargetParams{
		URL: "about:blank", NewWindow: &newWindow,
	})
	if err != nil {
		return nil, err
	}
	t, err := i.adopt(ctx, res.TargetID)
	if err != nil {
		return nil, err
	}
	if activate || len(i.openTabs()) == 1 {
		i.setActive(t)
	}
	return t, nil
}

// adopt attaches to a page target and adds it as a tab.
func (i *instance) adopt(ctx context.Context, id target.ID) (*tab, error) {
	t := i.newTabState(id)
	// The tab inherits the browser and its loggers.
	tctx, cancel := chromedp.NewContext(i.rootCtx, chromedp.WithTargetID(id), chromedp.WithListener(t.onEvent))
	errc := make(chan error, 1)
	// The first Run binds the target to tctx, which must not carry the
	// caller's deadline: wait for it here instead.
	go func() { errc <- chromedp.Do(tctx) }()
	select {
	case err := <-errc:
		if err != nil {
			cancel()
			return nil, fmt.Errorf("attach to tab: %w", err)
		}
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	t.attach(tctx, cancel, chromedp.FromContext(tctx).Target)
	if err := t.setup(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("set up tab: %w", err)
	}
	i.addTab(t)
	return t, nil
}

// closeTab closes a tab's target.
func (i *instance) closeTab(ctx context.Context, t *tab) error {
	if t.cancel != nil {
		t.cancel()
	} else if _, err := cdp.Call(ctx, i.browser, target.CloseTarget, target.CloseTargetParams{TargetID: t.targetID}); err != nil {
		return err
	}
	i.removeTab(t)
	return nil
}

const maxTabs = 10

// setup enables what the instance needs from the browser: downloads into
// the workspace with events, and the tab list's events.
func (i *instance) setup(ctx context.Context) error {
	if err := chromedp.ListenBrowser(i.rootCtx, i.onBrowserEvent); err != nil {
		return err
	}
	return i.e.allowDownloads(ctx, i)
}

// onBrowserEvent follows the targets (popups become tabs; closed pages are
// dropped; titles are kept) and the downloads. It runs on chromedp's
// reading goroutine.
func (i *instance) onBrowserEvent(ev any) {
	switch ev := ev.(type) {
	case *target.EventTargetCreated:
		info := ev.TargetInfo
		if info == nil || info.Type != "page" || info.OpenerID == "" || info.Subtype != "" {
			return
		}
		go i.adoptPopup(info.TargetID)
	case *target.EventTargetInfoChanged:
		if info := ev.TargetInfo; info != nil {
			if t := i.tabByTarget(info.TargetID); t != nil {
				t.setInfo(info.URL, info.Title)
			}
		}
	case *target.EventTargetDestroyed:
		if t := i.tabByTarget(ev.TargetID); t != nil {
			i.removeTab(t)
			if t.cancel != nil {
				// Freeing the context waits for chromedp's reading
				// goroutine, which runs this handler.
				go t.cancel()
			}
		}
	case *target.EventTargetCrashed:
		if t := i.tabByTarget(ev.TargetID); t != nil {
			t.mu.Lock()
			t.crashed = true
			t.broadcast()
			t.mu.Unlock()
		}
	default:
		i.e.onDownloadEvent(ev)
	}
}

// adoptPopup makes a window a page opened a tab (browser.md §3.2, at most
// MaxTabs); one too many is closed.
func (i *instance) adoptPopup(id target.ID) {
	ctx, cancel := context.WithTimeout(i.rootCtx, 10*time.Second)
	defer cancel()
	if i.tabByTarget(id) != nil {
		return
	}
	if len(i.openTabs()) >= maxTabs {
		_, _ = cdp.Call(ctx, i.browser, target.CloseTarget, target.CloseTargetParams{TargetID: id})
		i.e.log.Warn("a page opened a window beyond the tab limit; closed it", "limit", maxTabs)
		return
	}
	if _, err := i.adopt(ctx, id); err != nil && !i.dead() {
		i.e.log.Warn("could not attach to a window a page opened", "err", err)
	}
}

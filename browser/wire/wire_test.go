package wire

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		`fill @e2 "Ada Lovelace"`:        {"fill", "@e2", "Ada Lovelace"},
		`fill e2 'it''s'`:                {"fill", "e2", "its"},
		`type #q "say \"hi\" \\ now"`:    {"type", "#q", `say "hi" \ now`},
		`type #q "keep \n as is"`:        {"type", "#q", `keep \n as is`},
		`eval 'a = "x"; b'`:              {"eval", `a = "x"; b`},
		`click a\ b`:                     {"click", "a b"},
		"  snapshot \t -i  ":             {"snapshot", "-i"},
		`fill e1 ""`:                     {"fill", "e1", ""},
		`open "https://x.test/?a=1&b=2"`: {"open", "https://x.test/?a=1&b=2"},
		`echo $HOME ~ *`:                 {"echo", "$HOME", "~", "*"},
		"":                               nil,
	} {
		got, ok := Split(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{`fill e1 "open`, `fill e1 'open`, `click a\`} {
		_, ok := Split(bad)
		require.False(t, ok, bad)
	}
}

func TestParseCmdLine(t *testing.T) {
	t.Parallel()
	i := func(n int) *int { return &n }
	b := func(v bool) *bool { return &v }
	s := func(v string) *string { return &v }
	for in, want := range map[string]Command{
		"open https://example.com":            {Action: ActNavigate, URL: "https://example.com"},
		"goto http://127.0.0.1:8080/":         {Action: ActNavigate, URL: "http://127.0.0.1:8080/"},
		"agent-browser open x.test":           {Action: ActNavigate, URL: "x.test"},
		"back":                                {Action: ActBack},
		"forward":                             {Action: ActForward},
		"reload":                              {Action: ActReload},
		"snapshot":                            {Action: ActSnapshot, InteractiveOnly: b(false)},
		"snapshot -i":                         {Action: ActSnapshot, InteractiveOnly: b(true)},
		"snapshot -i -s form -d 3":            {Action: ActSnapshot, InteractiveOnly: b(true), Selector: "form", MaxDepth: i(3)},
		"snapshot --interactive --depth 2 -c": {Action: ActSnapshot, InteractiveOnly: b(true), MaxDepth: i(2)},
		"click @e7":                           {Action: ActClick, Ref: "e7"},
		"click e7":                            {Action: ActClick, Ref: "e7"},
		"click #send":                         {Action: ActClick, Selector: "#send"},
		"dblclick e3":                         {Action: ActClick, Ref: "e3", ClickCount: i(2)},
		`fill @e2 "Ada"`:                      {Action: ActFill, Ref: "e2", Text: s("Ada")},
		"fill e2 Ada Lovelace":                {Action: ActFill, Ref: "e2", Text: s("Ada Lovelace")},
		`type input[name=q] "hello"`:          {Action: ActType, Selector: "input[name=q]", Text: s("hello")},
		"press Enter":                         {Action: ActPress, Key: "Enter"},
		"press Control+a":                     {Action: ActPress, Key: "Control+a"},
		"select e3 blue green":                {Action: ActSelect, Ref: "e3", Values: []string{"blue", "green"}},
		"check e2":                            {Action: ActCheck, Ref: "e2"},
		"uncheck #agree":                      {Action: ActUncheck, Selector: "#agree"},
		"hover e4":                            {Action: ActHover, Ref: "e4"},
		"focus e1":                            {Action: ActFocus, Ref: "e1"},
		"scroll":                              {Action: ActScroll},
		"scroll down 300":                     {Action: ActScroll, Direction: "down", Amount: i(300)},
		"scroll UP":                           {Action: ActScroll, Direction: "up"},
		"scroll #footer":                      {Action: ActScroll, Selector: "#footer"},
		"scrollintoview e9":                   {Action: ActScroll, Ref: "e9"},
		"wait 500":                            {Action: ActWait, MS: i(500)},
		"wait #result":                        {Action: ActWait, Selector: "#result"},
		`wait --text "Done"`:                  {Action: ActWait, Text: s("Done")},
		"wait --url **/done*":                 {Action: ActWait, URL: "**/done*"},
		"wait --load networkidle":             {Action: ActWait, Load: WaitNetworkIdle},
		"wait --load":                         {Action: ActWait, Load: WaitLoad},
		"wait --network-idle":                 {Action: ActWait, NetworkIdle: true},
		"wait --download":                     {Action: ActWait, Download: true},
		"get text #out":                       {Action: ActGet, What: GetText, Selector: "#out"},
		"get text":                            {Action: ActGet, What: GetText},
		"get html e2":                         {Action: ActGet, What: GetHTML, Ref: "e2"},
		"get value e1":                        {Action: ActGet, What: GetValue, Ref: "e1"},
		"get attr a href":                     {Action: ActGet, What: GetAttr, Selector: "a", Name: "href"},
		"get url":                             {Action: ActGet, What: GetURL},
		"get title":                           {Action: ActGet, What: GetTitle},
		"get count li":                        {Action: ActGet, What: GetCount, Selector: "li"},
		`eval "document.title"`:               {Action: ActEvaluate, Expression: "document.title"},
		"eval 1 + 1":                          {Action: ActEvaluate, Expression: "1 + 1"},
		"screenshot":                          {Action: ActScreenshot},
		"screenshot --full shots/a.png":       {Action: ActScreenshot, FullPage: true, Path: "shots/a.png"},
		"screenshot /workspace/a.jpg":         {Action: ActScreenshot, Path: "a.jpg", Format: FormatJPEG},
		"pdf out/page.pdf":                    {Action: ActPDF, Path: "out/page.pdf"},
		"upload e5 a.txt ./b/c.txt":           {Action: ActUpload, Ref: "e5", Paths: []string{"a.txt", "b/c.txt"}},
		"tab":                                 {Action: ActTabList},
		"tab list":                            {Action: ActTabList},
		"tab new":                             {Action: ActTabNew},
		"tab new https://x.test":              {Action: ActTabNew, URL: "https://x.test"},
		"tab 2":                               {Action: ActTabSelect, TabID: "t2"},
		"tab select t3":                       {Action: ActTabSelect, TabID: "t3"},
		"tab close":                           {Action: ActTabClose},
		"tab close 2":                         {Action: ActTabClose, TabID: "t2"},
		"set viewport 1280 800":               {Action: ActSetViewport, Width: i(1280), Height: i(800)},
	} {
		got, err := ParseCmdLine(in, []any{"cmd"})
		require.Nil(t, err, "%s: %v", in, err)
		want.Source = in
		require.Equal(t, want, got, in)
	}
}

func TestParseCmdLine_Unsupported(t *testing.T) {
	t.Parallel()
	for in, verb := range map[string]string{
		"cookies":                      "cookies",
		"cookies set a b":              "cookies",
		"storage local":                "storage",
		"network route **/*":           "network",
		"record start x.webm":          "record",
		"frame #f":                     "frame",
		"open --proxy http://p x.test": "--proxy",
		"snapshot --json":              "--json",
		"set device iPhone":            "set device",
		"wait --fn window.ok":          "wait --fn",
		"teleport e1":                  "teleport",
	} {
		got, err := ParseCmdLine(in, []any{"cmd"})
		require.Nil(t, err, in)
		require.Equal(t, verb, got.Unsupported, in)
		require.Equal(t, in, got.Source)
	}
	require.True(t, UpstreamOnly("cookies"))
	require.True(t, UpstreamOnly("--json"))
	require.False(t, UpstreamOnly("teleport"))
}

func TestParseCmdLine_Invalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "   ", `fill e1 "unterminated`, "open", "open a b", "click", "click a b", "fill e1",
		"press", "select e1", "snapshot -d", "snapshot -d x", "snapshot --bogus", "scroll down x",
		"wait", "wait e5", "wait --text", "wait 1 2", "get", "get attr a", "get url e1", "get value",
		"get text a b", "eval", "screenshot a b", "screenshot --bogus", "pdf", "upload e1", "tab new a b",
		"tab select", "tab t0", "set viewport 10 10", "set viewport a b", "back now", "wait --load sometime",
		"get colour a", "type e1",
	} {
		_, err := ParseCmdLine(in, []any{"commands", 3})
		require.NotNil(t, err, "%q", in)
		require.False(t, err.IsPath(), in)
		require.Equal(t, "commands[3]", err.Field(), in)
	}
	_, err := ParseCmdLine("pdf ../../x.pdf", []any{"commands", 3})
	require.NotNil(t, err)
	require.True(t, err.IsPath())
	require.Equal(t, "commands[3].path", err.Field())
	require.Equal(t, PathTraversal, err.Reason)
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	parse := func(s string) (Command, *Invalid) { return ParseItem(json.RawMessage(s), []any{"command"}) }
	c, err := parse(`{"action":"fill","ref":"@e2","text":"Ada"}`)
	require.Nil(t, err)
	require.Equal(t, "e2", c.Ref, "@e2 is normalized")
	require.Equal(t, "fill", c.Source)
	c, err = parse(`"snapshot -i"`)
	require.Nil(t, err, "a JSON string is a command string")
	require.Equal(t, ActSnapshot, c.Action)
	c, err = parse(`{"action":"wait","load":true}`)
	require.Nil(t, err)
	require.Equal(t, LoadState(WaitLoad), c.Load)
	c, err = parse(`{"action":"screenshot","path":"/workspace/shots/./a.png"}`)
	require.Nil(t, err)
	require.Equal(t, "shots/a.png", c.Path)
	require.False(t, c.InlineWanted(), "a screenshot with a path is not inline by default")
	c, err = parse(`{"action":"screenshot"}`)
	require.Nil(t, err)
	require.True(t, c.InlineWanted())
	c, err = parse(`{"action":"click","selector":"#a","dialog":{"accept":true,"prompt_text":"x"}}`)
	require.Nil(t, err)
	require.True(t, *c.Dialog.Accept)

	for in, field := range map[string]string{
		`{}`:                              "command.action",
		`[]`:                              "command",
		`{"action":3}`:                    "command.action",
		`{"action":"fly"}`:                "command.action",
		`{"action":"navigate"}`:           "command.url",
		`{"action":"navigate","url":" "}`: "command.url",
		`{"action":"navigate","url":"x","wait_until":"never"}`:                       "command.wait_until",
		`{"action":"navigate","url":"x","ref":"e1"}`:                                 "command.ref",
		`{"action":"navigate","url":"x","bogus":1}`:                                  "command.bogus",
		`{"action":"click"}`:                                                         "command.ref",
		`{"action":"click","ref":"e1","selector":"a"}`:                               "command",
		`{"action":"click","ref":"x7"}`:                                              "command.ref",
		`{"action":"click","ref":"e1","click_count":4}`:                              "command.click_count",
		`{"action":"click","ref":"e1","button":"side"}`:                              "command.button",
		`{"action":"fill","ref":"e1"}`:                                               "command.text",
		`{"action":"fill","ref":"e1","text":5}`:                                      "command.text",
		`{"action":"type","text":"x","delay_ms":5000}`:                               "command.delay_ms",
		`{"action":"press","key":""}`:                                                "command.key",
		`{"action":"select","ref":"e1","values":[]}`:                                 "command.values",
		`{"action":"scroll","ref":"e1","direction":"up"}`:                            "command",
		`{"action":"scroll","direction":"in"}`:                                       "command.direction",
		`{"action":"wait"}`:                                                          "command",
		`{"action":"wait","ms":1,"text":"a"}`:                                        "command",
		`{"action":"wait","load":"soon"}`:                                            "command.load",
		`{"action":"wait","load":3}`:                                                 "command.load",
		`{"action":"get"}`:                                                           "command.what",
		`{"action":"get","what":"size"}`:                                             "command.what",
		`{"action":"get","what":"attr","selector":"a"}`:                              "command.name",
		`{"action":"get","what":"text","name":"x"}`:                                  "command.name",
		`{"action":"get","what":"url","ref":"e1"}`:                                   "command",
		`{"action":"get","what":"count"}`:                                            "command.selector",
		`{"action":"evaluate","expression":" "}`:                                     "command.expression",
		`{"action":"screenshot","format":"gif"}`:                                     "command.format",
		`{"action":"screenshot","quality":50}`:                                       "command.quality",
		`{"action":"screenshot","full_page":true,"ref":"e1"}`:                        "command.full_page",
		`{"action":"screenshot","inline":false}`:                                     "command.path",
		`{"action":"upload","ref":"e1","paths":[]}`:                                  "command.paths",
		`{"action":"tab_select"}`:                                                    "command.tab_id",
		`{"action":"tab_select","tab_id":"x"}`:                                       "command.tab_id",
		`{"action":"set_viewport","width":50,"height":800}`:                          "command.width",
		`{"action":"set_viewport","width":800}`:                                      "command.height",
		`{"action":"set_viewport","width":800,"height":800,"device_scale_factor":9}`: "command.device_scale_factor",
	} {
		_, err := parse(in)
		require.NotNil(t, err, in)
		require.False(t, err.IsPath(), in)
		require.Equal(t, field, err.Field(), "%s: %s", in, err.Msg)
	}
	for in, want := range map[string][2]string{
		`{"action":"pdf","path":""}`:                          {"command.path", PathEmpty},
		`{"action":"pdf","path":"/etc/x.pdf"}`:                {"command.path", PathAbsolute},
		`{"action":"pdf","path":"a/../../x.pdf"}`:             {"command.path", PathTraversal},
		`{"action":"pdf","path":"a\u0000b"}`:                  {"command.path", PathNullByte},
		`{"action":"upload","ref":"e1","paths":["a","../b"]}`: {"command.paths[1]", PathTraversal},
	} {
		_, err := parse(in)
		require.NotNil(t, err, in)
		require.True(t, err.IsPath(), in)
		require.Equal(t, want[0], err.Field(), in)
		require.Equal(t, want[1], err.Reason, in)
	}
}

func TestRequests(t *testing.T) {
	t.Parallel()
	i := func(n int) *int { return &n }
	cmd := "get url"
	x, err := ExecRequest{Cmd: &cmd}.Parse()
	require.Nil(t, err)
	require.Equal(t, DefaultTimeout, x.TimeoutSeconds)
	require.Equal(t, DefaultMaxOutputBytes, x.MaxOutputBytes)
	for _, r := range []ExecRequest{
		{},
		{Cmd: &cmd, Command: json.RawMessage(`{"action":"back"}`)},
		{Cmd: &cmd, Timeout: i(0)},
		{Cmd: &cmd, Timeout: i(MaxTimeout + 1)},
		{Cmd: &cmd, MaxOutputBytes: i(MaxOutputBytesLimit + 1)},
	} {
		_, err := r.Parse()
		require.NotNil(t, err, "%+v", r)
	}
	x, err = ExecRequest{Command: json.RawMessage(`{"action":"back"}`), Timeout: i(MaxTimeout)}.Parse()
	require.Nil(t, err)
	require.Equal(t, MaxTimeout, x.TimeoutSeconds)

	b, err := BatchRequest{Commands: []json.RawMessage{json.RawMessage(`"get url"`), json.RawMessage(`{"action":"back"}`)}}.Parse()
	require.Nil(t, err)
	require.True(t, b.StopOnError, "stop_on_error defaults to true")
	require.Equal(t, DefaultBatchTimeout, b.TimeoutSeconds)
	require.Len(t, b.Commands, 2)
	many := make([]json.RawMessage, MaxBatchSteps+1)
	for k := range many {
		many[k] = json.RawMessage(`"get url"`)
	}
	_, err = BatchRequest{Commands: many}.Parse()
	require.NotNil(t, err)
	_, err = BatchRequest{Commands: many[:MaxBatchSteps], Timeout: i(MaxBatchTimeout)}.Parse()
	require.Nil(t, err)
	_, err = BatchRequest{Commands: many[:1], Timeout: i(MaxBatchTimeout + 1)}.Parse()
	require.NotNil(t, err)
	_, err = BatchRequest{Commands: []json.RawMessage{json.RawMessage(`"get url"`), json.RawMessage(`{"action":"x"}`)}}.Parse()
	require.NotNil(t, err)
	require.Equal(t, "commands[1].action", err.Field())
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	s, cut := Truncate("hello", 5)
	require.False(t, cut)
	require.Equal(t, "hello", s)
	s, cut = Truncate("hello world", 5)
	require.True(t, cut)
	require.Equal(t, "hello\n[... truncated 6 bytes ...]", s)
	// "é" is two bytes, "沙" three, "🚀" four: never cut inside one.
	for _, in := range []string{"ééééé", "沙箱沙箱", "🚀🚀🚀", "aé沙🚀"} {
		for limit := 0; limit <= len(in); limit++ {
			out, _ := Truncate(in, limit)
			body, _, _ := strings.Cut(out, "\n[... truncated")
			require.True(t, utf8.ValidString(body), "%q at %d: %q", in, limit, body)
			require.LessOrEqual(t, len(body), limit)
			require.True(t, strings.HasPrefix(in, body))
			if len(body) < len(in) {
				require.Contains(t, out, "truncated "+itoa(len(in)-len(body))+" bytes")
			}
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"file.txt": "file.txt", "a/b/../c/d": "a/c/d", "./a/./b": "a/b", "a//b/": "a/b", "a/..": ".",
		".hidden": ".hidden", "/workspace/shots/a.png": "shots/a.png", "/workspace": ".", "/workspace/": ".",
	} {
		got, err := NormalizePath("path", in)
		require.Nil(t, err, in)
		require.Equal(t, want, got, in)
	}
	for in, reason := range map[string]string{
		"": PathEmpty, "a\x00b": PathNullByte, "/etc/passwd": PathAbsolute, "//x": PathAbsolute,
		"/workspacex/a": PathAbsolute, "../x": PathTraversal, "/workspace/../x": PathTraversal,
	} {
		_, err := NormalizePath("path", in)
		require.NotNil(t, err, in)
		require.Equal(t, reason, err.Reason, in)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/health", nil)
	require.True(t, Open(r))
	require.False(t, Open(httptest.NewRequest("POST", "/health", nil)))
	require.False(t, Open(httptest.NewRequest("GET", "/health/", nil)))
	for auth, want := range map[string]bool{
		"Bearer tok": true, "bearer tok": true, "Bearer tok2": false, "Basic tok": false, "tok": false, "": false,
	} {
		r := httptest.NewRequest("GET", "/meta", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		require.Equal(t, want, Authorized(r, "tok"), auth)
	}
	r = httptest.NewRequest("GET", "/meta", nil)
	r.Header.Set("Authorization", "Bearer ")
	require.False(t, Authorized(r, ""), "an empty token matches nothing")
}

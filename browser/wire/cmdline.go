package wire

import (
	"slices"
	"strconv"
	"strings"
)

// Split splits a command string into words with shell-like quoting and
// no shell: whitespace separates words; '…' keeps everything literally;
// "…" keeps everything but \" \\ \$ \` (the backslash escapes them); a
// backslash outside quotes escapes the next character. ok is false for an
// unterminated quote or a trailing backslash.
func Split(s string) (words []string, ok bool) {
	var (
		cur     strings.Builder
		inWord  bool
		rs      = []rune(s)
		closing rune
	)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case closing == '\'':
			if r == '\'' {
				closing = 0
			} else {
				cur.WriteRune(r)
			}
		case closing == '"':
			switch {
			case r == '"':
				closing = 0
			case r == '\\' && i+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[i+1]):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			closing, inWord = r, true
		case r == '\\':
			if i+1 >= len(rs) {
				return nil, false
			}
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if closing != 0 {
		return nil, false
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}

// unsupportedVerbs are agent-browser verbs outside the compatibility
// subset; unsupportedFlags its global flags. Both give unsupported_command.
var (
	unsupportedVerbs = []string{
		"cookies", "storage", "network", "record", "frame", "mouse", "keyboard", "drag",
		"find", "is", "highlight", "console", "errors", "trace", "state", "session",
		"close", "connect", "install", "download", "dialog", "window", "keydown", "keyup",
		"set", "tap", "swipe", "device", "profile", "har",
	}
	unsupportedFlags = []string{
		"--json", "--proxy", "--session", "--headed", "--cdp", "--profile", "--headers",
		"--executable-path", "--extension", "--debug", "--state", "--ignore-https-errors",
		"--user-agent", "--args", "--provider", "--allow-file-access", "--config", "--device",
	}
)

// UpstreamOnly reports whether verb (or global flag) is one of upstream's
// that the compatibility subset leaves out, as opposed to an unknown one.
func UpstreamOnly(verb string) bool {
	first, _, _ := strings.Cut(verb, " ")
	return slices.Contains(unsupportedVerbs, first) || slices.Contains(unsupportedFlags, first)
}

// CmdVerbs lists the verbs of the compatibility subset.
var CmdVerbs = []string{
	"open", "goto", "navigate", "back", "forward", "reload", "snapshot", "click", "dblclick",
	"fill", "type", "press", "select", "check", "uncheck", "hover", "focus", "scroll",
	"scrollintoview", "wait", "get", "eval", "screenshot", "pdf", "upload", "tab", "set viewport",
}

// ParseCmdLine translates a command string of upstream's CLI (agent-browser)
// into a command (browser.md §3.2, "cmd form"). A verb or global flag
// outside the subset gives a command with Unsupported set, which fails
// with unsupported_command when it runs; a malformed use of a supported
// verb is Invalid. loc locates the string in the request.
func ParseCmdLine(s string, loc []any) (Command, *Invalid) {
	words, ok := Split(s)
	if !ok {
		return Command{}, invalid(loc, "unterminated quote or trailing backslash in %q", s)
	}
	if len(words) > 0 && words[0] == "agent-browser" {
		words = words[1:]
	}
	if len(words) == 0 {
		return Command{}, invalid(loc, "empty command")
	}
	for _, w := range words {
		flag, _, _ := strings.Cut(w, "=")
		if slices.Contains(unsupportedFlags, flag) {
			return Command{Source: s, Unsupported: flag}, nil
		}
	}
	verb, args := strings.ToLower(words[0]), words[1:]
	c := Command{Source: s}
	bad := func(format string, a ...any) (Command, *Invalid) {
		return Command{}, invalid(loc, "%s: "+format, append([]any{verb}, a...)...)
	}
	// target sets the target from an argument: a ref (e7, @e7) or a CSS
	// selector.
	target := func(arg string) {
		if ref, ok := NormalizeRef(arg); ok {
			c.Ref = ref
		} else {
			c.Selector = arg
		}
	}
	nargs := func(lo, hi int) bool { return len(args) >= lo && (hi < 0 || len(args) <= hi) }
	switch verb {
	case "open", "goto", "navigate":
		if !nargs(1, 1) {
			return bad("usage: %s URL", verb)
		}
		c.Action, c.URL = ActNavigate, args[0]
	case "back", "forward", "reload":
		if !nargs(0, 0) {
			return bad("takes no argument")
		}
		c.Action = verb
	case "snapshot":
		c.Action = ActSnapshot
		interactive := false
		for i := 0; i < len(args); i++ {
			switch a := args[i]; a {
			case "-i", "--interactive":
				interactive = true
			case "-c", "--compact":
				// Upstream's compact form drops empty structural nodes,
				// which this snapshot never lists.
			case "-s", "--selector", "-d", "--depth":
				if i+1 >= len(args) {
					return bad("%s needs a value", a)
				}
				i++
				if a == "-s" || a == "--selector" {
					c.Selector = args[i]
					continue
				}
				n, err := strconv.Atoi(args[i])
				if err != nil {
					return bad("%s takes a number, not %q", a, args[i])
				}
				c.MaxDepth = &n
			default:
				return bad("unknown argument %q (usage: snapshot [-i] [-s SELECTOR] [-d DEPTH])", a)
			}
		}
		c.InteractiveOnly = &interactive
	case "click", "dblclick":
		if !nargs(1, 1) {
			return bad("usage: %s REF|SELECTOR", verb)
		}
		c.Action = ActClick
		target(args[0])
		if verb == "dblclick" {
			n := 2
			c.ClickCount = &n
		}
	case "fill", "type":
		if !nargs(2, -1) {
			return bad("usage: %s REF|SELECTOR TEXT", verb)
		}
		c.Action = verb
		target(args[0])
		text := strings.Join(args[1:], " ")
		c.Text = &text
	case "press", "key":
		if !nargs(1, 1) {
			return bad("usage: press KEY (Enter, Tab, Control+a …)")
		}
		c.Action, c.Key = ActPress, args[0]
	case "select":
		if !nargs(2, -1) {
			return bad("usage: select REF|SELECTOR VALUE…")
		}
		c.Action = ActSelect
		target(args[0])
		c.Values = args[1:]
	case "check", "uncheck", "hover", "focus":
		if !nargs(1, 1) {
			return bad("usage: %s REF|SELECTOR", verb)
		}
		c.Action = verb
		target(args[0])
	case "scroll":
		c.Action = ActScroll
		switch {
		case len(args) == 0:
		case len(args) <= 2 && slices.Contains([]string{"up", "down", "left", "right"}, strings.ToLower(args[0])):
			c.Direction = strings.ToLower(args[0])
			if len(args) == 2 {
				n, err := strconv.Atoi(args[1])
				if err != nil {
					return bad("the amount is a number of pixels, not %q", args[1])
				}
				c.Amount = &n
			}
		case len(args) == 1:
			target(args[0])
		default:
			return bad("usage: scroll [up|down|left|right] [PIXELS] | scroll REF|SELECTOR")
		}
	case "scrollintoview", "scrollinto":
		if !nargs(1, 1) {
			return bad("usage: scrollintoview REF|SELECTOR")
		}
		c.Action = ActScroll
		target(args[0])
	case "wait":
		c.Action = ActWait
		if !nargs(1, 2) {
			return bad("usage: wait SELECTOR | MS | --text TEXT | --url GLOB | --load [STATE] | --network-idle | --download")
		}
		switch a := args[0]; a {
		case "--text", "-t":
			if len(args) != 2 {
				return bad("--text needs the text")
			}
			c.Text = &args[1]
		case "--url", "-u":
			if len(args) != 2 {
				return bad("--url needs a glob")
			}
			c.URL = args[1]
		case "--load", "-l":
			c.Load = WaitLoad
			if len(args) == 2 {
				c.Load = LoadState(args[1])
			}
		case "--network-idle", "--networkidle":
			c.NetworkIdle = true
		case "--download":
			c.Download = true
		case "--fn", "-f":
			return Command{Source: s, Unsupported: "wait " + a}, nil
		default:
			if len(args) != 1 {
				return bad("usage: wait SELECTOR | MS")
			}
			if n, err := strconv.Atoi(a); err == nil {
				c.MS = &n
			} else if ref, ok := NormalizeRef(a); ok {
				return bad("waits for a selector, not a ref (%s)", ref)
			} else {
				c.Selector = a
			}
		}
	case "get":
		if !nargs(1, 3) {
			return bad("usage: get text|html|value|attr|url|title|count [REF|SELECTOR] [NAME]")
		}
		c.Action, c.What = ActGet, strings.ToLower(args[0])
		rest := args[1:]
		if c.What == GetAttr {
			if len(rest) != 2 {
				return bad("usage: get attr REF|SELECTOR NAME")
			}
			target(rest[0])
			c.Name = rest[1]
		} else {
			if len(rest) > 1 {
				return bad("get %s takes at most one target", c.What)
			}
			if len(rest) == 1 {
				target(rest[0])
			}
		}
	case "eval", "evaluate":
		if !nargs(1, -1) {
			return bad("usage: eval EXPRESSION")
		}
		c.Action, c.Expression = ActEvaluate, strings.Join(args, " ")
	case "screenshot":
		c.Action = ActScreenshot
		for _, a := range args {
			switch {
			case a == "--full" || a == "-f" || a == "--full-page":
				c.FullPage = true
			case strings.HasPrefix(a, "-"):
				return bad("unknown flag %q (usage: screenshot [--full] [PATH])", a)
			case c.Path != "":
				return bad("one path at most")
			default:
				c.Path = a
			}
		}
		if strings.HasSuffix(strings.ToLower(c.Path), ".jpg") || strings.HasSuffix(strings.ToLower(c.Path), ".jpeg") {
			c.Format = FormatJPEG
		}
	case "pdf":
		if !nargs(1, 1) {
			return bad("usage: pdf PATH")
		}
		c.Action, c.Path = ActPDF, args[0]
	case "upload":
		if !nargs(2, -1) {
			return bad("usage: upload REF|SELECTOR PATH…")
		}
		c.Action = ActUpload
		target(args[0])
		c.Paths = args[1:]
	case "tab", "tabs":
		switch {
		case len(args) == 0 || (len(args) == 1 && args[0] == "list"):
			c.Action = ActTabList
		case args[0] == "new":
			if len(args) > 2 {
				return bad("usage: tab new [URL]")
			}
			c.Action = ActTabNew
			if len(args) == 2 {
				c.URL = args[1]
			}
		case args[0] == "close":
			if len(args) > 2 {
				return bad("usage: tab close [TAB]")
			}
			c.Action = ActTabClose
			if len(args) == 2 {
				c.TabID = tabID(args[1])
			}
		case args[0] == "select" || args[0] == "switch":
			if len(args) != 2 {
				return bad("usage: tab select TAB")
			}
			c.Action, c.TabID = ActTabSelect, tabID(args[1])
		case len(args) == 1:
			c.Action, c.TabID = ActTabSelect, tabID(args[0])
		default:
			return bad("usage: tab [list] | tab new [URL] | tab TAB | tab close [TAB]")
		}
	case "set":
		if len(args) == 0 || strings.ToLower(args[0]) != "viewport" {
			sub := ""
			if len(args) > 0 {
				sub = " " + args[0]
			}
			return Command{Source: s, Unsupported: "set" + sub}, nil
		}
		if len(args) != 3 && len(args) != 4 {
			return bad("usage: set viewport WIDTH HEIGHT [SCALE]")
		}
		c.Action = ActSetViewport
		w, err1 := strconv.Atoi(args[1])
		h, err2 := strconv.Atoi(args[2])
		if err1 != nil || err2 != nil {
			return bad("width and height are numbers")
		}
		c.Width, c.Height = &w, &h
		if len(args) == 4 {
			f, err := strconv.ParseFloat(args[3], 64)
			if err != nil {
				return bad("the scale is a number")
			}
			c.DeviceScaleFactor = &f
		}
	default:
		return Command{Source: s, Unsupported: verb}, nil
	}
	if err := c.Validate(loc); err != nil {
		// A field name means little in a string: locate the string, but a
		// path keeps its field (commands[2].path).
		if !err.IsPath() {
			err.Loc = slices.Clone(loc)
		}
		return Command{}, err
	}
	return c, nil
}

// tabID accepts "t2" and "2".
func tabID(s string) string {
	if _, err := strconv.Atoi(s); err == nil {
		return "t" + s
	}
	return s
}

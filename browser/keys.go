package browser

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp/kb"

	"github.com/bayhq/bay/browser/wire"
)

// Keys come from chromedp's kb table, which maps a rune (printable
// characters, and private-use runes for named keys such as kb.Enter) to
// the key's code, key value and key codes.

var (
	namedOnce sync.Once
	named     map[string]rune
)

// keyAliases are other names of keys and modifiers.
var keyAliases = map[string]string{
	"esc": "Escape", "return": "Enter", "space": " ", "spacebar": " ",
	"up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
	"del": "Delete", "ins": "Insert", "pgup": "PageUp", "pgdn": "PageDown", "pagedown": "PageDown",
	"pageup": "PageUp", "ctrl": "Control", "control": "Control", "cmd": "Meta", "command": "Meta",
	"super": "Meta", "win": "Meta", "option": "Alt", "opt": "Alt", "plus": "+",
}

// namedKeys indexes kb.Keys by the key value ("Enter", "ArrowDown",
// "F5"), case-insensitively.
func namedKeys() map[string]rune {
	namedOnce.Do(func() {
		named = map[string]rune{}
		for r, k := range kb.Keys {
			if utf8.RuneCountInString(k.Key) < 2 {
				continue
			}
			name := strings.ToLower(k.Key)
			// '\r' and '\n' are both Enter: keep one, the smaller rune, so
			// the choice does not depend on map order.
			if old, ok := named[name]; !ok || r < old {
				named[name] = r
			}
		}
	})
	return named
}

// modifierBits are the modifiers of the protocol, with the key that
// presses each.
var modifierBits = map[string]struct {
	bit int64
	key rune
}{
	"alt":     {int64(kb.ModifierAlt), []rune(kb.Alt)[0]},
	"control": {int64(kb.ModifierCtrl), []rune(kb.Control)[0]},
	"meta":    {int64(kb.ModifierMeta), []rune(kb.Meta)[0]},
	"shift":   {int64(kb.ModifierShift), []rune(kb.Shift)[0]},
}

// chord is a parsed key: modifiers then one key.
type chord struct {
	mods []string
	key  rune
}

// parseKey reads "Enter", "a", "Control+a", "Shift+Tab", "Control++".
func parseKey(spec string) (chord, error) {
	var parts []string
	rest := spec
	for {
		i := strings.Index(rest, "+")
		if i <= 0 || i == len(rest)-1 {
			parts = append(parts, rest)
			break
		}
		parts = append(parts, rest[:i])
		rest = rest[i+1:]
	}
	var c chord
	for i, p := range parts {
		name := p
		if a, ok := keyAliases[strings.ToLower(p)]; ok {
			name = a
		}
		last := i == len(parts)-1
		if _, ok := modifierBits[strings.ToLower(name)]; ok && !last {
			c.mods = append(c.mods, strings.ToLower(name))
			continue
		}
		if !last {
			return chord{}, fmt.Errorf("%q in %q is not a modifier (Control, Alt, Shift, Meta)", p, spec)
		}
		if utf8.RuneCountInString(name) == 1 {
			c.key, _ = utf8.DecodeRuneInString(name)
			return c, nil
		}
		if r, ok := namedKeys()[strings.ToLower(name)]; ok {
			c.key = r
			return c, nil
		}
		return chord{}, fmt.Errorf("unknown key %q (keys are named like Enter, Tab, Escape, ArrowDown, F5, or one character)", name)
	}
	return chord{}, fmt.Errorf("no key in %q", spec)
}

// press sends a chord: the modifiers go down, the key goes down and up
// (with a char event for printable keys unless Control, Alt or Meta is
// held), the modifiers come up.
func (x *execution) press(ctx context.Context, c chord) error {
	var bits int64
	send := func(p *input.DispatchKeyEventParams) error {
		return x.t.target.Call(ctx, input.CommandDispatchKeyEvent, *p, nil)
	}
	for _, m := range c.mods {
		mb := modifierBits[m]
		bits |= mb.bit
		evs := kb.Encode(mb.key)
		down := *evs[0]
		down.Type = input.DispatchKeyEventTypeRawKeyDown
		down.Modifiers = bits
		if err := send(&down); err != nil {
			return err
		}
	}
	shortcut := bits&^int64(kb.ModifierShift) != 0
	for _, ev := range kb.Encode(c.key) {
		ev.Modifiers |= bits
		if ev.Type == input.DispatchKeyEventTypeChar && shortcut {
			continue
		}
		if ev.Type == input.DispatchKeyEventTypeKeyDown && shortcut {
			// A shortcut's key has no text; without text Chromium runs the
			// editing command bound to it (Control+a selects all).
			ev.Type = input.DispatchKeyEventTypeRawKeyDown
			ev.Text, ev.UnmodifiedText = "", ""
		}
		if err := send(ev); err != nil {
			return err
		}
	}
	for i := len(c.mods) - 1; i >= 0; i-- {
		mb := modifierBits[c.mods[i]]
		bits &^= mb.bit
		evs := kb.Encode(mb.key)
		up := *evs[len(evs)-1]
		up.Modifiers = bits
		if err := send(&up); err != nil {
			return err
		}
	}
	return nil
}

// typeText sends the key events of each character, delay apart.
func (x *execution) typeText(ctx context.Context, text string, delay time.Duration) error {
	for i, r := range []rune(text) {
		if i > 0 && delay > 0 {
			if err := sleep(ctx, delay); err != nil {
				return err
			}
		}
		for _, ev := range kb.Encode(r) {
			if err := x.t.target.Call(ctx, input.CommandDispatchKeyEvent, *ev, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// keyError is the failure of an unparsable key.
func keyError(err error) error { return fail(wire.ErrInvalidArgument, "%v", err) }

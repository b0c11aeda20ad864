package connectors

import (
	"fmt"
	"strings"

	"junction/engine"
)

// Dispatch on a shared MLLP listener: each message goes to the first channel (in the
// order of routes.yaml) whose match holds, else to the one channel without a match, else
// it is answered AR. Load refuses what could never be taken: a second channel without a
// match on an address, or a match that the earlier channels' matches take whole, one of
// them alone or several between them.

// addRoute adds a channel's route to the listener's dispatch, refusing one that could
// never be taken: a second channel without a match, or a match the earlier matches take
// whole.
func (l *mllpListener) addRoute(n *engine.Node, r *mllpRoute) {
	if l.first == nil {
		l.first = r
	}
	if r.match == nil {
		if l.catchAll != nil {
			n.Errorf("channel %s (line %d) already takes every message on %s that no channel's match takes: give one of them a match block", l.catchAll.channel.Name, l.catchAll.line, l.addr)
			return
		}
		l.catchAll = r
		return
	}
	switch by := shadowedBy(r.match, l.routes); len(by) {
	case 0:
	case 1:
		n.ErrorAt(n.Raw("match"), n.Path+".match", "channel %s (line %d) comes first on %s and takes every message this match takes (%s): this channel would get none; narrow that match or make this one differ", by[0].channel.Name, by[0].line, l.addr, by[0].match)
		return
	default:
		var names []string
		for _, p := range by {
			names = append(names, fmt.Sprintf("%s (line %d: %s)", p.channel.Name, p.line, p.match))
		}
		n.ErrorAt(n.Raw("match"), n.Path+".match", "channels %s come first on %s and between them take every message this match takes: this channel would get none; narrow those matches or make this one differ", strings.Join(names, ", "), l.addr)
		return
	}
	l.routes = append(l.routes, r)
}

// maxShadowCombinations bounds the combinations of a match's values shadowedBy looks at:
// past it, a match is let through rather than load taking long (lists that long are not
// written by hand).
const maxShadowCombinations = 1 << 16

// shadowedBy returns the earlier routes whose matches between them take every message m
// takes, in the order of the file (nil when some message m takes reaches m). That is so
// when each combination of m's values (one value of each list m gives, any value for
// each it leaves out) is taken whole by one earlier match: the values a list holds, a
// message type pattern and "any" are each a set no finite union of other such sets holds
// unless one of them does, so no combination is covered by several matches together
// without being covered by one.
func shadowedBy(m *mllpMatch, earlier []*mllpRoute) []*mllpRoute {
	dims := m.dims()
	used := map[*mllpRoute]bool{}
	leaves := 0
	var walk func(d int, cands []*mllpRoute) bool
	walk = func(d int, cands []*mllpRoute) bool {
		for _, p := range cands {
			if p.match.coversFrom(m, d) {
				used[p] = true
				return true
			}
		}
		if len(cands) == 0 || d == len(dims) {
			return false
		}
		vals := dims[d]
		if len(vals) == 0 {
			vals = []string{""} // any value
		}
		for _, v := range vals {
			if leaves++; leaves > maxShadowCombinations {
				return false
			}
			var next []*mllpRoute
			for _, p := range cands {
				if p.match.takes(d, v) {
					next = append(next, p)
				}
			}
			if !walk(d+1, next) {
				return false
			}
		}
		return true
	}
	if !walk(0, earlier) {
		return nil
	}
	var by []*mllpRoute
	for _, p := range earlier {
		if used[p] {
			by = append(by, p)
		}
	}
	return by
}

// route is the channel that takes a message with header h: the first whose match holds,
// else the one without a match; nil when none.
func (l *mllpListener) route(h mshHeader) *mllpRoute {
	for _, r := range l.routes {
		if r.match.holds(h) {
			return r
		}
	}
	return l.catchAll
}

// takes describes what the listener's channels take, for an AR to a message none takes.
func (l *mllpListener) takes() string {
	var parts []string
	for _, r := range l.routes {
		parts = append(parts, r.match.String())
	}
	return strings.Join(parts, "; ")
}

// mllpMatch is a channel's match block: each list that is given must hold a value the
// message has (a list is "any of"); lists left out take anything.
type mllpMatch struct {
	// messageType holds CODE or CODE^EVENT (or CODE^EVENT^STRUCTURE) patterns.
	messageType []string

	sendingApp, sendingFacility, receivingApp, receivingFacility []string
}

// readMatch reads the source's match block (nil when absent).
func readMatch(n *engine.Node) *mllpMatch {
	m := n.Block("match")
	if m == nil {
		return nil
	}
	mt := &mllpMatch{
		messageType:       m.Strs("message_type"),
		sendingApp:        m.Strs("sending_application"),
		sendingFacility:   m.Strs("sending_facility"),
		receivingApp:      m.Strs("receiving_application"),
		receivingFacility: m.Strs("receiving_facility"),
	}
	m.CheckUnknown()
	for _, t := range mt.messageType {
		parts := strings.Split(t, "^")
		bad := len(parts) > 3
		for _, p := range parts {
			bad = bad || strings.TrimSpace(p) == "" || p != strings.TrimSpace(p)
		}
		if bad {
			m.ErrorAt(m.Raw("message_type"), m.Path+".message_type", "expected a message type such as ADT or ORU^R01, got %q", t)
		}
	}
	if len(mt.messageType)+len(mt.sendingApp)+len(mt.sendingFacility)+len(mt.receivingApp)+len(mt.receivingFacility) == 0 {
		m.Errorf("an empty match takes every message: leave match out for that, or name message_type, sending_application, sending_facility, receiving_application or receiving_facility")
		return nil
	}
	return mt
}

func (m *mllpMatch) dims() [5][]string {
	return [5][]string{m.messageType, m.sendingApp, m.sendingFacility, m.receivingApp, m.receivingFacility}
}

// holds reports whether the message with header h is one m takes.
func (m *mllpMatch) holds(h mshHeader) bool {
	have := [5]string{
		h.component(9, 1) + "^" + h.component(9, 2) + "^" + h.component(9, 3),
		h.component(3, 1), h.component(4, 1), h.component(5, 1), h.component(6, 1),
	}
	for i, want := range m.dims() {
		if len(want) == 0 {
			continue
		}
		ok := false
		for _, w := range want {
			if i == 0 && typeCovers(w, have[0]) || i > 0 && strings.EqualFold(w, have[i]) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// coversFrom reports whether, in each of the fields from the d-th on (message type,
// sending application, …, receiving facility), m takes every value o takes: from 0, m
// takes every message o takes (so o, coming after m, gets none).
func (m *mllpMatch) coversFrom(o *mllpMatch, d int) bool {
	mine, theirs := m.dims(), o.dims()
	for i := d; i < len(mine); i++ {
		if len(mine[i]) == 0 {
			continue
		}
		if len(theirs[i]) == 0 {
			return false
		}
		for _, t := range theirs[i] {
			if !m.takes(i, t) {
				return false
			}
		}
	}
	return true
}

// takes reports whether m's d-th field takes v: a value, or for the message type a
// pattern; "" stands for any value, which only a field m leaves out takes.
func (m *mllpMatch) takes(d int, v string) bool {
	want := m.dims()[d]
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if v != "" && (d == 0 && typeCovers(w, v) || d > 0 && strings.EqualFold(w, v)) {
			return true
		}
	}
	return false
}

// typeCovers reports whether the message type pattern p (ADT, ADT^A01) takes t (a pattern,
// or a message's CODE^EVENT^STRUCTURE): p's components equal t's first ones.
func typeCovers(p, t string) bool {
	pc, tc := strings.Split(p, "^"), strings.Split(t, "^")
	if len(pc) > len(tc) {
		return false
	}
	for i := range pc {
		if !strings.EqualFold(pc[i], tc[i]) {
			return false
		}
	}
	return true
}

func (m *mllpMatch) String() string {
	names := [5]string{"message_type", "sending_application", "sending_facility", "receiving_application", "receiving_facility"}
	var parts []string
	for i, v := range m.dims() {
		if len(v) > 0 {
			parts = append(parts, names[i]+" "+strings.Join(v, ","))
		}
	}
	return strings.Join(parts, " ")
}

// describeMSH names what routing looked at in a message, for an AR.
func describeMSH(h mshHeader) string {
	return fmt.Sprintf("message type %s from %s/%s to %s/%s", orNone(h.messageType()),
		orNone(h.component(3, 1)), orNone(h.component(4, 1)), orNone(h.component(5, 1)), orNone(h.component(6, 1)))
}

func orNone(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

package fhir

import (
	"fmt"
	"sort"
)

// issues collects what validation finds, each tied to the node it is about, so they can be
// given in document order with HAPI's location and expression.
type issues struct {
	list []pendingIssue
	seen map[string]bool // severity|location|message already reported (profiles overlap)
	mute int             // >0 while trying a candidate (slice, target profile): nothing is kept
	errs int             // errors added while muted, to learn whether the candidate fits
}

type pendingIssue struct {
	issue     Issue
	line, col int
	seq       int
}

// add reports an issue located at node at (for JSON properties that did not become nodes,
// a stand-in node carrying their name and position).
func (is *issues) add(at *node, severity, code, msg string) {
	if is.mute > 0 {
		if severity == SeverityError || severity == SeverityFatal {
			is.errs++
		}
		return
	}
	loc := at.location()
	key := severity + "|" + loc + "|" + msg
	if is.seen == nil {
		is.seen = map[string]bool{}
	}
	if is.seen[key] {
		return
	}
	is.seen[key] = true
	is.list = append(is.list, pendingIssue{
		issue: Issue{
			Severity:    severity,
			Code:        code,
			Diagnostics: msg,
			Location:    []string{loc, fmt.Sprintf("Line %d, Col %d", at.line, at.col)},
			Expression:  []string{loc},
		},
		line: at.line, col: at.col, seq: len(is.list),
	})
}

// sorted returns the issues in document order (then in the order they were found).
func (is *issues) sorted() []Issue {
	sort.SliceStable(is.list, func(i, j int) bool {
		a, b := is.list[i], is.list[j]
		if a.line != b.line {
			return a.line < b.line
		}
		if a.col != b.col {
			return a.col < b.col
		}
		return a.seq < b.seq
	})
	out := make([]Issue, len(is.list))
	for i := range is.list {
		out[i] = is.list[i].issue
	}
	return out
}

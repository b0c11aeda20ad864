package main

import "fmt"

// expectColumn checks a custom metadata column's value as the channel would store it
// ("" expects none: the expression gave nothing, or failed).
func expectColumn(name, want string) func(*caseRun) string {
	return func(r *caseRun) string {
		if got := r.res.Columns[name]; got != want {
			return fmt.Sprintf("column %s: expected %q, got %q", name, want, got)
		}
		return ""
	}
}

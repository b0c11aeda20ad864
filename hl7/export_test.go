package hl7

// CountWork counts the segments and bytes that lookups examine until the
// returned stop is called, for tests (here and in package hl7_test) that
// assert linear growth by counting work instead of timing it. Tests that
// use it must not run in parallel.
func CountWork() (units *int, stop func()) {
	n := new(int)
	workHook = func(u int) { *n += u }
	return n, func() { workHook = nil }
}

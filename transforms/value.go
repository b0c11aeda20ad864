package transforms

// Value runs p and gives its value as text (a column expression's: "" for nil, numbers
// and times as set() would write them, anything else as JSON).
func (s *Session) Value(p *Program) (string, error) {
	out, err := s.r.vm.Run(p.prog, &s.r.env)
	if err != nil {
		return "", &RuntimeError{Script: p.Script, Err: err}
	}
	return toText(out), nil
}

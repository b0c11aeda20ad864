package transforms

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// jsonStep is one step of a simple FHIR element path: name[0].family → {name 0} {family -1}.
type jsonStep struct {
	key   string
	index int // -1: no index given
}

// parseJSONPath reads paths such as "name[0].family", "Patient.birthDate", "identifier[1].value".
// A leading resource type (capitalised first step) is dropped when it matches the resource.
func parseJSONPath(path string, resourceType string) ([]jsonStep, error) {
	if path == "" {
		return nil, fmt.Errorf("empty path")
	}
	parts := strings.Split(path, ".")
	if len(parts) > 1 && parts[0] == resourceType {
		parts = parts[1:]
	}
	steps := make([]jsonStep, 0, len(parts))
	for _, p := range parts {
		s := jsonStep{key: p, index: -1}
		if i := strings.IndexByte(p, '['); i >= 0 {
			if !strings.HasSuffix(p, "]") {
				return nil, fmt.Errorf("path %q: expected ']' after the index in %q", path, p)
			}
			n, err := strconv.Atoi(p[i+1 : len(p)-1])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: expected a 0-based index in %q", path, p)
			}
			s.key, s.index = p[:i], n
		}
		if s.key == "" || !validKey(s.key) {
			return nil, fmt.Errorf("path %q: expected an element name, got %q", path, p)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

func validKey(k string) bool {
	for _, r := range k {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func jsonGet(res map[string]any, path string) (any, error) {
	rt, _ := res["resourceType"].(string)
	steps, err := parseJSONPath(path, rt)
	if err != nil {
		return nil, err
	}
	var cur any = res
	for _, s := range steps {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		cur = obj[s.key]
		if s.index >= 0 {
			arr, ok := cur.([]any)
			if !ok || s.index >= len(arr) {
				return nil, nil
			}
			cur = arr[s.index]
		}
	}
	return cur, nil
}

// jsonSet writes v at path, creating objects and extending arrays on the way.
func jsonSet(res map[string]any, path string, v any) error {
	rt, _ := res["resourceType"].(string)
	steps, err := parseJSONPath(path, rt)
	if err != nil {
		return err
	}
	obj := res
	for i, s := range steps {
		last := i == len(steps)-1
		if s.index < 0 {
			if last {
				obj[s.key] = v
				return nil
			}
			next, ok := obj[s.key].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[s.key] = next
			}
			obj = next
			continue
		}
		arr, _ := obj[s.key].([]any)
		for len(arr) <= s.index {
			arr = append(arr, map[string]any{})
		}
		obj[s.key] = arr
		if last {
			arr[s.index] = v
			return nil
		}
		next, ok := arr[s.index].(map[string]any)
		if !ok {
			next = map[string]any{}
			arr[s.index] = next
		}
		obj = next
	}
	return nil
}

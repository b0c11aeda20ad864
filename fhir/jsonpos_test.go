package fhir

import "testing"

// Locations follow HAPI's JSON parser (see jsonpos.go).
func TestJSONPositions(t *testing.T) {
	src := `{
  "a" : {
    "b" : "x",
    "c" : {
      "d" : 1
    },
    "e" : [
      {
        "f" : true
      },
      "g"
    ]
  },
  "h" : {
    "i" : "y"
  },
  "j" : { }
}`
	root, err := parseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	at := func(n *jsonNode, line, col int, what string) {
		t.Helper()
		if n.line != line || n.col != col {
			t.Errorf("%s at %d:%d, want %d:%d", what, n.line, n.col, line, col)
		}
	}
	a := root.get("a")
	e := a.get("e")
	at(root, 1, 2, "root: just past its {")
	at(a, 4, 12, `a: just past the { of its last object property c`)
	at(a.get("b"), 3, 15, "primitive: just past the comma after it")
	at(a.get("c"), 6, 6, "object without object properties: just past the token after its first value")
	at(e, 7, 12, "array: just past [")
	at(e.items[0], 8, 8, "object in array: just past its {")
	at(e.items[1], 12, 6, "primitive in array: just past the ] after it")
	at(root.get("h"), 16, 4, "h: just past the } after its only primitive")
	at(root.get("j"), 18, 2, "empty object: just past the token after its }")
}

func TestJSONErrors(t *testing.T) {
	for _, c := range []struct {
		src       string
		line, col int
	}{
		{"", 1, 1},
		{"{\n  \"a\" : tru\n}", 2, 9},
		{"{\"a\":1,}", 1, 8},
		{"{\"a\":01}", 1, 8},
		{"[1,2", 1, 5},
		{"{\"a\":\"x\ny\"}", 1, 8},
		{"{} {}", 1, 4},
	} {
		_, err := parseJSON([]byte(c.src))
		je, ok := err.(*JSONError)
		if !ok {
			t.Errorf("%q: error %v, want a JSONError", c.src, err)
			continue
		}
		if je.Line != c.line || je.Col != c.col {
			t.Errorf("%q: error at %d:%d (%s), want %d:%d", c.src, je.Line, je.Col, je.Msg, c.line, c.col)
		}
	}
	if n, err := parseJSON([]byte(`{"s":"\u00e6\/\n\"","n":-1.5e3}`)); err != nil || n.str("s") != "æ/\n\"" || n.get("n").text != "-1.5e3" {
		t.Errorf("escapes/numbers: %v %+v", err, n)
	}
}

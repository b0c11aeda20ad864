package engine_test

import (
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"junction/engine"
)

const columnRoutes = `store: { path: junction.db }
channels:
  - name: adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed }
    filter:
      - 'get("MSH-9.1") == "ADT"'
    transform:
      - 'set("PID-5.1", upper(get("PID-5.1")))'
      - 'get("PID-5.2") != "Boom" || error("no Booms")'
    columns:
      mrn: 'get("PID-3.1")'
      patient: 'get("PID-5.1") + ", " + get("PID-5.2")'
      event: 'get("MSH-9.1") + "^" + get("MSH-9.2")'
      odd: 'get("PID-5.2") == "Odd" ? error("no odd names") : ""'
    destinations:
      - { name: archive, type: file, dir: out }
`

func TestColumnsAreEvaluatedAfterTheTransformsOrOnTheMessageAsReceivedWhenAStepFailed(t *testing.T) {
	eng, err := engine.LoadBytes(filepath.Join(t.TempDir(), "routes.yaml"), []byte(columnRoutes))
	if err != nil {
		t.Fatal(err)
	}
	ch := eng.Channel("adt")
	if got := ch.ColumnNames(); strings.Join(got, ",") != "mrn,patient,event,odd" {
		t.Fatalf("column names %v, want them in the order written", got)
	}
	run := func(body string) engine.DryResult {
		return ch.DryRun(&engine.Inbound{DataType: "Hl7v2", Body: []byte(body)})
	}
	r := run(dryADT)
	want := map[string]string{"mrn": "0000000000", "patient": "FERNÁNDEZ, José", "event": "ADT^A01"}
	if r.Status != engine.StatusTransformed || !maps.Equal(r.Columns, want) {
		t.Errorf("transformed message: %s %v, want %v (after the transforms; empty values left out)", r.Status, r.Columns, want)
	}
	r = run(dryBoom)
	want = map[string]string{"mrn": "0000000000", "patient": "Smith, Boom", "event": "ADT^A01"}
	if r.Status != engine.StatusError || !maps.Equal(r.Columns, want) {
		t.Errorf("failed message: %s %v, want %v (as received)", r.Status, r.Columns, want)
	}
	r = run(dryNoMSH)
	if r.Columns != nil {
		t.Errorf("a message that does not parse got columns %v", r.Columns)
	}
	odd := strings.Replace(dryADT, "^José", "^Odd", 1)
	r = run(odd)
	if r.Status != engine.StatusTransformed || r.Columns["mrn"] != "0000000000" || r.Columns["odd"] != "" {
		t.Fatalf("a failing column expression: %s %v, want the message TRANSFORMED with the other columns", r.Status, r.Columns)
	}
	if len(r.Warnings) != 1 || r.Warnings[0].Path != "columns.odd" || !strings.Contains(r.Warnings[0].Text, "no odd names") ||
		!strings.Contains(r.Warnings[0].Text, "routes.yaml:14") {
		t.Errorf("a failing column expression's warning: %+v", r.Warnings)
	}
	long := strings.Replace(dryADT, "0000000000^^^NHS", strings.Repeat("9", 300)+"^^^NHS", 1)
	if got := run(long).Columns["mrn"]; got != strings.Repeat("9", engine.MaxColumnValue) {
		t.Errorf("a long value is kept as %d characters, want %d", len(got), engine.MaxColumnValue)
	}
}

func TestColumnMistakesAreReportedAtTheirLines(t *testing.T) {
	many := "    columns:\n"
	for _, c := range "abcdefghijk" {
		many += "      " + string(c) + ": 'get(\"PID-3.1\")'\n"
	}
	for _, c := range []struct{ name, columns, want string }{
		{"not a mapping", "    columns: [mrn]\n", `10: channels[0].columns: expected a mapping of column names to expressions`},
		{"bad name", "    columns:\n      mrn: 'get(\"PID-3.1\")'\n      pat-ient: 'get(\"PID-5\")'\n", `12: channels[0].columns.pat-ient: column names use letters, digits and '_'`},
		{"not an expression", "    columns:\n      mrn: [1]\n", `11: channels[0].columns.mrn: expected an expression`},
		{"syntax", "    columns:\n      mrn: 'get(\"PID-3.1\"'\n", `11: channels[0].columns.mrn: unexpected token`},
		{"bad path", "    columns:\n      mrn: 'get(\"PID-x\")'\n", `11: channels[0].columns.mrn: path "PID-x"`},
		{"too many", many, `11: channels[0].columns: at most 10 columns, got 11`},
	} {
		t.Run(c.name, func(t *testing.T) {
			y := strings.Replace(columnRoutes, columnRoutes[strings.Index(columnRoutes, "    columns:"):strings.Index(columnRoutes, "    destinations:")], c.columns, 1)
			_, err := engine.LoadBytes("routes.yaml", []byte(y))
			var errs engine.ConfigErrors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want ConfigErrors", err)
			}
			if !strings.Contains(errs.Error(), "routes.yaml:"+c.want) {
				t.Errorf("errors do not contain routes.yaml:%s:\n%s", c.want, errs.Error())
			}
		})
	}
}

package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"junction/engine"
	"junction/transforms"
)

const sharedRoutes = `functions:
  mrn(): 'get("PID-3.1")'
  fullName(family, given): 'family + ", " + given'
  facility(code): |
    lookup("facilities", code, "UNKNOWN")
lookups:
  wards: { A1: Acute Medicine, B2: Cardiology }
  facilities: { file: lookups/facilities.csv, key: code, value: name }
channels:
  - name: ed-adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed, data_types: [Hl7v2] }
    filter: ['mrn() != ""']
    transform:
      - 'set("PID-5.1", fullName(get("PID-5.1"), get("PID-5.2")))'
      - 'set("MSH-4", facility(get("MSH-4")))'
      - 'set("PV1-3", lookup("wards", get("PV1-3.1")))'
    destinations:
      - { name: archive, type: file, dir: out }
`

func writeShared(t *testing.T, csv string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "lookups"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lookups", "facilities.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "routes.yaml")
}

func TestChannelsCallSharedFunctionsAndLookupTablesFromInlineAndCSV(t *testing.T) {
	file := writeShared(t, "\xef\xbb\xbfcode,name,region\nRX1,Royal Infirmary,North\nR0D,Derriford,South\n")
	e, err := engine.LoadBytes(file, []byte(sharedRoutes))
	if err != nil {
		t.Fatal(err)
	}
	ch := e.Channels()[0]
	msg, err := transforms.Parse("Hl7v2", []byte("MSH|^~\\&|EPR|RX1|DEX|QVV|20240213144932||ADT^A01|1|P|2.4\rPID|1||123^^^H^MR||Smith^John\rPV1|1|I|B2\r"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := transforms.NewSession(msg, ch.Name)
	defer s.Close()
	if ok, err := s.Filter(ch.Filters[0]); !ok || err != nil {
		t.Fatalf("filter: %v %v", ok, err)
	}
	for _, p := range ch.Transforms {
		if err := s.Transform(p); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]string{"PID-5.1": "Smith, John", "MSH-4": "Royal Infirmary", "PV1-3": "Cardiology"} {
		if got, _ := msg.HL7.Get(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

func TestSharedCodeMistakesAreReportedAtTheirLines(t *testing.T) {
	cfg := `functions:
  mrn(): 'get("PID-3.1")'
  fullName(family, given): 'family + ", " + given'
  broken(x): 'x +'
  upper(x): 'x'
  early(): 'later()'
  later(): '1'
  noParens: '1'
  dup(a, a): 'a'
lookups:
  facilities: { file: lookups/facilities.csv, key: code, value: nom }
  wards: { file: lookups/nowhere.csv }
channels:
  - name: ed-adt
    source: { type: ingest, listen: "127.0.0.1:0", domain: ed }
    transform:
      - 'set("PID-5.1", fullName(get("PID-5.1")))'
      - 'set("MSH-4", lookup("facilitis", get("MSH-4")))'
      - 'set("MSH-4", mrn(1))'
    destinations:
      - name: archive
        type: file
        dir: out
        transform: ['set("PID-5.1", nosuch())']
`
	file := writeShared(t, "code,name\nRX1,Royal Infirmary\n")
	_, err := engine.LoadBytes(file, []byte(cfg))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		":4: functions.broken: unexpected token EOF",
		`:5: functions.upper(x): function upper: "upper" is one of expr's built-in functions`,
		":6: functions.early: function later is defined below (line 7)",
		`:8: functions.noParens: expected a function's name and parameters, such as mrn() or fullName(family, given), got "noParens"`,
		":9: functions.dup(a, a): function dup: parameter a is named twice",
		`:11: lookups.facilities.value: no column "nom" in the file's header row (columns: code, name)`,
		":12: lookups.wards.file: cannot read ",
		":17: channels[0].transform[0]: function fullName takes 2 arguments (family, given), got 1",
		`:18: channels[0].transform[1]: unknown lookup table "facilitis" (tables: facilities, wards)`,
		":19: channels[0].transform[2]: function mrn takes 0 arguments (), got 1",
		":24: channels[0].destinations[0].transform[0]: unknown name nosuch",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors:\n%v\nwant %q", err, want)
		}
	}
}

func TestADuplicateKeyInALookupFileIsAnError(t *testing.T) {
	file := writeShared(t, "code,name\nRX1,Royal Infirmary\nR0D,Derriford\nRX1,Again\n")
	_, err := engine.LoadBytes(file, []byte(sharedRoutes))
	if err == nil || !strings.Contains(err.Error(), `:8: lookups.facilities.file: lookups/facilities.csv line 4: key "RX1" is already given on line 2`) {
		t.Fatalf("err = %v", err)
	}
}

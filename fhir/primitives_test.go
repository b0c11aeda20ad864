package fhir

import "testing"

func TestPrimitiveFormats(t *testing.T) {
	good := map[string][]string{
		"date":         {"2021", "2021-02", "2021-02-28", "2020-02-29"},
		"dateTime":     {"2021", "2021-02-14", "2021-02-14T15:23:12Z", "2021-02-14T15:23:12.123+01:00"},
		"instant":      {"2021-02-14T15:23:12Z", "2021-02-14T15:23:12.5-05:00"},
		"time":         {"15:23:12", "00:00:00.001"},
		"id":           {"a", "4a45e179-ace1-4ace-9991-8276c0ba490a", "A.b-1"},
		"uri":          {"http://x.y/z", "urn:oid:1.2", "Patient/1"},
		"url":          {"http://x.y/z", "mailto:a@b.dk"},
		"canonical":    {"http://x.y/StructureDefinition/z|1.0"},
		"code":         {"HH", "in progress"},
		"decimal":      {"0", "-1.50", "1e3", "3.14159"},
		"integer":      {"0", "-7", "2147483647"},
		"positiveInt":  {"1", "42"},
		"unsignedInt":  {"0", "42"},
		"boolean":      {"true", "false"},
		"string":       {"", "Karen", "æøå"},
		"markdown":     {"**x**"},
		"base64Binary": {"aGVsbG8=", "aGVs bG8="},
		"oid":          {"urn:oid:1.2.208.176.1.2"},
		"uuid":         {"urn:uuid:4a45e179-ace1-4ace-9991-8276c0ba490a"},
	}
	bad := map[string][]string{
		"date":         {"2021-13", "2021-02-30", "21-02-14", "2021-02-14T10:00:00Z", "2021/02/14"},
		"dateTime":     {"2021-02-14T15:23", "2021-02-14T15:23:12", "2021-02-14 15:23:12Z", "2021-02-31"},
		"instant":      {"2021-02-14", "2021-02-14T15:23:12"},
		"time":         {"25:00:00", "15:23", "15:23:12Z"},
		"id":           {"a b", "x_y", "0123456789012345678901234567890123456789012345678901234567890123456789"},
		"uri":          {"http://x y", "oid:1.2", "uuid:1234"},
		"url":          {"relative/path"},
		"code":         {" HH", "HH ", "a  b", ""},
		"decimal":      {"01", "1.", ".5", "+1", "1,5"},
		"integer":      {"1.0", "01", "2147483648", "-"},
		"positiveInt":  {"0", "-1"},
		"unsignedInt":  {"-1"},
		"boolean":      {"TRUE", "1"},
		"string":       {"   "},
		"base64Binary": {"abc", "a%==", "!!!!"},
		"oid":          {"1.2.208", "urn:oid:1..2"},
		"uuid":         {"4a45e179-ace1-4ace-9991-8276c0ba490a", "urn:uuid:4A45E179-ACE1-4ACE-9991-8276C0BA490A"},
	}
	for typ, vals := range good {
		for _, v := range vals {
			if sev, msg := checkPrimitive(typ, v); msg != "" {
				t.Errorf("%s %q: %s %s", typ, v, sev, msg)
			}
		}
	}
	for typ, vals := range bad {
		for _, v := range vals {
			if _, msg := checkPrimitive(typ, v); msg == "" {
				t.Errorf("%s %q: accepted", typ, v)
			}
		}
	}
}

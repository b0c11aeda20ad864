package fhirstore

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// searchStore holds five patients and their encounters, observations and conditions:
//
//	0000000000  FERNÁNDEZ María José, female, 1985-03-17 (A01: encounter from
//	            2024-02-13T14:45Z, observations 27113001 and 50373000, condition I21.9)
//	9434765919  O'BRIEN Siobhán Mary (also OBRIEN Shiv, SMITH Siobhán), female, 1962-02-13
//	            (A01: encounter from 2024-06-12T09:00+01:00, observation 27113001 and a
//	            second with no effective time, conditions J18.9 and I48.9)
//	4857773456  PATEL Ravi, male, 1978-01-05 (ORU: ten LOINC observations on 2024-06-10)
//	45fe30ed-…  WILLIAMS Gareth John, male, born 1990 (year only)
//	9990001112  KOWALSKA Zofia, female, 2023-09-15
func searchStore(t testing.TB) *Store {
	s := openStore(t)
	apply(t, s, a01(t))
	for _, m := range []string{"adt_a01_admit_nhs.hl7", "oru_r01_lab.hl7", "adt_a04_register_v23.hl7", "adt_a28_add_person.hl7"} {
		apply(t, s, testMessage(t, m))
	}
	return s
}

func search(t testing.TB, s *Store, rtype, query string) *Page {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.Search(context.Background(), rtype, q)
	if err != nil {
		t.Fatalf("%s?%s: %v", rtype, query, err)
	}
	return page
}

// describe names a result by what the tests know of it: a Patient by its id, anything
// else by its first code and subject's id.
func describe(t testing.TB, r Resource) string {
	var v struct {
		Code    struct{ Coding []struct{ Code string } }
		Subject struct{ Reference string }
	}
	if err := json.Unmarshal(r.JSON, &v); err != nil {
		t.Fatal(err)
	}
	if r.Type == "Patient" {
		return r.ID
	}
	d := strings.TrimPrefix(v.Subject.Reference, "Patient/")
	if len(v.Code.Coding) > 0 {
		d = v.Code.Coding[0].Code + " " + d
	}
	return d
}

func found(t testing.TB, page *Page, sorted bool) []string {
	out := []string{}
	for _, r := range page.Resources {
		out = append(out, describe(t, r))
	}
	if sorted {
		slices.Sort(out)
	}
	return out
}

func TestSearchParameters(t *testing.T) {
	s := searchStore(t)
	const (
		maria   = "0000000000"
		siobhan = "9434765919"
		ravi    = "4857773456"
		gareth  = "45fe30ed-b700-5c68-b8cd-bda05ebaea7c"
		zofia   = "9990001112"
	)
	none := []string{}
	all := []string{maria, gareth, ravi, siobhan, zofia}
	_, p := read(t, s, "Patient", maria)
	mariaUpdated := p.Meta.LastUpdated

	for _, tc := range []struct {
		rtype, query string
		want         []string // sorted
	}{
		{"Patient", "", all},
		{"Patient", "_id=" + maria, []string{maria}},
		{"Patient", "_id=nobody", none},
		{"Patient", "_id=" + maria + "," + zofia, []string{maria, zofia}},
		{"Patient", "_lastUpdated=gt2020-01-01", all},
		{"Patient", "_lastUpdated=lt2020-01-01", none},
		{"Patient", "_lastUpdated=" + url.QueryEscape(mariaUpdated), []string{maria}},
		{"Patient", "_lastUpdated=le" + url.QueryEscape(mariaUpdated), []string{maria}},
		{"Patient", "_lastUpdated=ge" + url.QueryEscape(mariaUpdated), all},
		{"Patient", "_lastUpdated=lt" + url.QueryEscape(mariaUpdated), none},
		{"Patient", "_lastUpdated=gt" + url.QueryEscape(mariaUpdated), []string{gareth, ravi, siobhan, zofia}},

		{"Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|" + maria, []string{maria}},
		{"Patient", "identifier=" + maria, []string{maria}},
		{"Patient", "identifier=K123456", []string{maria}},
		{"Patient", "identifier=urn:junction:id:RX1:mr|K123456", []string{maria}},
		{"Patient", "identifier=|" + maria, none}, // it has a system
		{"Patient", "identifier=https://example.org/other|" + maria, none},
		{"Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|", []string{maria, ravi, siobhan, zofia}},

		{"Patient", "family=fern", []string{maria}},
		{"Patient", "family=FERNANDEZ", []string{maria}}, // accents and case do not matter
		{"Patient", "family=fernández", []string{maria}},
		{"Patient", "family=ernan", none}, // starts-with
		{"Patient", "family:contains=ERNAN", []string{maria}},
		{"Patient", "family:exact=FERNÁNDEZ", []string{maria}},
		{"Patient", "family:exact=Fernández", none},
		{"Patient", "family=o'b", []string{siobhan}},
		{"Patient", "family=smith", []string{siobhan}}, // a second name
		{"Patient", "family=pat,kow", []string{ravi, zofia}},
		{"Patient", "given=mar", []string{maria, siobhan}}, // María, Mary
		{"Patient", "given=maria", []string{maria}},
		{"Patient", "given=mar&given=jos", []string{maria}}, // repeated: AND
		{"Patient", "given=mar&given=sio", []string{siobhan}},
		{"Patient", "given=siobhan", []string{siobhan}},
		{"Patient", "name=fern", []string{maria}},
		{"Patient", "name=jose", []string{maria}},
		{"Patient", "name=ms", []string{maria, zofia}}, // prefix
		{"Patient", "name=nobody", none},

		{"Patient", "birthdate=1985-03-17", []string{maria}},
		{"Patient", "birthdate=1985-03", []string{maria}},
		{"Patient", "birthdate=1985", []string{maria}},
		{"Patient", "birthdate=1986", none},
		{"Patient", "birthdate=eq1962-02-13", []string{siobhan}},
		{"Patient", "birthdate=gt1985-03-17", []string{gareth, zofia}},
		{"Patient", "birthdate=ge1985-03-17", []string{maria, gareth, zofia}},
		{"Patient", "birthdate=lt1978-01-05", []string{siobhan}},
		{"Patient", "birthdate=le1978-01-05", []string{ravi, siobhan}},
		{"Patient", "birthdate=ne1985-03-17", []string{gareth, ravi, siobhan, zofia}},
		{"Patient", "birthdate=1990-06-01", none}, // born "1990": not within one day
		{"Patient", "birthdate=ge1990-06-01", []string{gareth, zofia}},
		{"Patient", "birthdate=ge1980&birthdate=lt2000", []string{maria, gareth}},
		{"Patient", "gender=male", []string{gareth, ravi}},
		{"Patient", "gender=female", []string{maria, siobhan, zofia}},
		{"Patient", "address-postalcode=ls1", []string{maria}},
		{"Patient", "address-city=leeds", []string{maria}},
		{"Patient", "address=leeds", []string{maria}},
		{"Patient", "address=station", none}, // "12 Station Road" starts with 12
		{"Patient", "gender:missing=true", none},
		{"Patient", "address:missing=false", []string{maria, gareth, siobhan, zofia}},
		{"Patient", "address:missing=true", []string{ravi}}, // the ORU has no address

		{"Encounter", "subject=Patient/" + maria, []string{maria}},
		{"Encounter", "subject=" + maria, []string{maria}},
		{"Encounter", "subject:Patient=" + maria, []string{maria}},
		{"Encounter", "patient=" + maria, []string{maria}},
		{"Encounter", "patient=Patient/" + siobhan, []string{siobhan}},
		{"Encounter", "patient=Practitioner/" + maria, none},
		{"Encounter", "patient=http://elsewhere.example/fhir/Patient/" + maria, []string{maria}},
		{"Encounter", "status=in-progress", []string{maria, ravi, siobhan}},
		{"Encounter", "status=finished", none},
		{"Encounter", "class=http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP", []string{maria, siobhan}},
		// An encounter in progress runs on: no single day contains it, but it reaches past one.
		{"Encounter", "date=2024-02-13", none},
		{"Encounter", "date=ge2024-02-13", []string{maria, gareth, siobhan}},
		{"Encounter", "date:missing=true", []string{ravi}},
		{"Encounter", "date=lt2024-02-14", []string{maria}},
		{"Encounter", "date=sa2024-02-13", []string{gareth, siobhan}},
		{"Encounter", "date=2024-05-14&status=planned", none},
		{"Encounter", "date=ge2024-05-14T09:00:00Z&date=lt2024-05-14T09:00:01Z", []string{maria, gareth}}, // gareth's starts then
		{"Encounter", "date=ge2024-06-12T08:00:00Z&patient=" + siobhan, []string{siobhan}},

		{"Observation", "code=http://snomed.info/sct|27113001", []string{"27113001 " + maria, "27113001 " + siobhan}},
		{"Observation", "code=27113001", []string{"27113001 " + maria, "27113001 " + siobhan}},
		{"Observation", "code=http://loinc.org|27113001", none},
		{"Observation", "code=http://loinc.org|2093-3,http://loinc.org|2571-8", []string{"2093-3 " + ravi, "2571-8 " + ravi}},
		{"Observation", "patient=" + maria, []string{"27113001 " + maria, "50373000 " + maria}},
		{"Observation", "subject=Patient/" + maria + "&code=50373000", []string{"50373000 " + maria}},
		{"Observation", "status=preliminary", []string{"2345-7 " + ravi}},
		{"Observation", "status:not=final&patient=" + ravi, []string{"11557-6 " + ravi, "2345-7 " + ravi, "48767-8 " + ravi}},
		{"Observation", "date=2024-02-13", []string{"27113001 " + maria, "50373000 " + maria}},
		{"Observation", "date=" + url.QueryEscape("2024-06-10T10:30:00+01:00"), []string{"2093-3 " + ravi}},
		{"Observation", "date=2024-06-10T10:30:00+01:00", []string{"2093-3 " + ravi}}, // an unescaped '+' reads as a space
		{"Observation", "date=2024-06-10T09:30:00Z", []string{"2093-3 " + ravi}},
		{"Observation", "date=2024-06-10T09:30Z", []string{"2093-3 " + ravi}},
		{"Observation", "date=gt2024-06-11&patient=" + siobhan, []string{"27113001 " + siobhan}},
		{"Observation", "date=gt2024-06-12&patient=" + siobhan, none}, // after the whole day
		{"Observation", "date=lt2024-02-13", none},
		{"Observation", "date:missing=true", []string{"364075005 " + siobhan}},

		{"Condition", "code=http://hl7.org/fhir/sid/icd-10|I21.9", []string{"I21.9 " + maria}},
		{"Condition", "patient=" + siobhan, []string{"I48.9 " + siobhan, "J18.9 " + siobhan}},
		{"Condition", "subject=Patient/" + maria, []string{"I21.9 " + maria}},
		{"Condition", "onset-date=2024-06-12", []string{"I48.9 " + siobhan, "J18.9 " + siobhan}},
		{"Condition", "code=I21.9&patient=" + siobhan, none},
	} {
		page := search(t, s, tc.rtype, tc.query)
		got := found(t, page, true)
		if tc.rtype == "Encounter" {
			for i, r := range page.Resources {
				got[i] = describeEncounter(t, r)
			}
			slices.Sort(got)
		}
		if !slices.Equal(got, tc.want) || page.Total != len(tc.want) {
			t.Errorf("%s?%s: found %v (total %d), want %v", tc.rtype, tc.query, got, page.Total, tc.want)
		}
	}
}

func describeEncounter(t testing.TB, r Resource) string {
	return strings.TrimPrefix(decode(t, r.JSON).Subject.Reference, "Patient/")
}

func TestSearchPagingAndSort(t *testing.T) {
	s := searchStore(t)
	var all []string
	page := search(t, s, "Observation", "_count=3&patient=4857773456")
	for {
		if page.Total != 10 {
			t.Fatalf("total %d on the page at %d, want 10", page.Total, page.Offset)
		}
		all = append(all, found(t, page, false)...)
		next := page.Next()
		if next < 0 {
			break
		}
		if len(page.Resources) != 3 {
			t.Fatalf("a page before the last has %d resources, want 3", len(page.Resources))
		}
		page = search(t, s, "Observation", "_count=3&patient=4857773456&_offset="+itoa(next))
	}
	if len(all) != 10 || len(slices.Compact(slices.Sorted(slices.Values(all)))) != 10 {
		t.Fatalf("pages gave %v, want the 10 observations once each", all)
	}

	if got := found(t, search(t, s, "Patient", "_sort=birthdate"), false); !slices.Equal(got, []string{"9434765919", "4857773456", "0000000000", "45fe30ed-b700-5c68-b8cd-bda05ebaea7c", "9990001112"}) {
		t.Errorf("_sort=birthdate: %v", got)
	}
	if got := found(t, search(t, s, "Patient", "_sort=-family&_count=2"), false); !slices.Equal(got, []string{"45fe30ed-b700-5c68-b8cd-bda05ebaea7c", "4857773456"}) {
		t.Errorf("_sort=-family&_count=2: %v (WILLIAMS, PATEL first)", got)
	}
	if got := found(t, search(t, s, "Patient", "_sort=_id&_count=1&_offset=1"), false); !slices.Equal(got, []string{"45fe30ed-b700-5c68-b8cd-bda05ebaea7c"}) {
		t.Errorf("_sort=_id, second: %v", got)
	}
	if p := search(t, s, "Patient", "_summary=count"); p.Total != 5 || len(p.Resources) != 0 {
		t.Errorf("_summary=count: total %d with %d resources", p.Total, len(p.Resources))
	}
	if p := search(t, s, "Patient", "_count=0"); p.Total != 5 || len(p.Resources) != 0 || p.Next() != -1 {
		t.Errorf("_count=0: total %d with %d resources", p.Total, len(p.Resources))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestSearchRefusals(t *testing.T) {
	s := openStore(t)
	for _, tc := range []struct {
		rtype, query, want string
	}{
		{"Patient", "foo=bar", `Unknown search parameter "foo" for resource type "Patient". Valid search parameters for this search are: [_id, _lastUpdated, active, address, address-city, address-postalcode, birthdate, family, gender, general-practitioner, given, identifier, link, name, telecom]`},
		{"Observation", "family=x", `Unknown search parameter "family" for resource type "Observation"`},
		{"Patient", "family:fuzzy=x", `Unknown modifier ":fuzzy" on search parameter "family" (expected :exact, :contains, :missing)`},
		{"Patient", "birthdate=1985-13-01", `search parameter birthdate: "1985-13-01" is not a FHIR date or dateTime`},
		{"Patient", "birthdate=ap1985", `search parameter birthdate: prefix "ap" is not supported`},
		{"Patient", "_count=lots", `_count must be a whole number of 0 or more, got "lots"`},
		{"Patient", "_sort=telecom,link", `_sort: cannot sort Patient by "link"`},
		{"Patient", "gender:missing=maybe", `gender:missing must be true or false, got "maybe"`},
		{"Encounter", "subject=Nonsense/1", `search parameter subject: "Nonsense/1" is not a reference`},
		{"Patient", "identifier=a|b|c", `token "a|b|c" has more than one '|'`},
	} {
		_, err := s.Search(context.Background(), tc.rtype, mustQuery(t, tc.query))
		fe := storeError(t, err, http.StatusBadRequest)
		if !strings.Contains(fe.Msg, tc.want) {
			t.Errorf("%s?%s: %q, want it to contain %q", tc.rtype, tc.query, fe.Msg, tc.want)
		}
	}
	_, err := s.Search(context.Background(), "Patients", nil)
	storeError(t, err, http.StatusNotFound)
}

func mustQuery(t testing.TB, q string) url.Values {
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDateRange(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi string // instants, UTC
	}{
		{"2024", "2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"},
		{"2024-02", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"},
		{"2024-02-29", "2024-02-29T00:00:00.000Z", "2024-03-01T00:00:00.000Z"},
		{"2024-02-13T14:45", "2024-02-13T14:45:00.000Z", "2024-02-13T14:46:00.000Z"},
		{"2024-06-12T09:10:00+01:00", "2024-06-12T08:10:00.000Z", "2024-06-12T08:10:01.000Z"},
		{"2024-06-12T09:10:00.25Z", "2024-06-12T09:10:00.250Z", "2024-06-12T09:10:00.251Z"},
	} {
		lo, hi, err := dateRange(tc.in)
		if err != nil || instant(lo) != tc.lo || instant(hi) != tc.hi {
			t.Errorf("dateRange(%q) = [%s, %s) %v, want [%s, %s)", tc.in, instant(lo), instant(hi), err, tc.lo, tc.hi)
		}
	}
	for _, bad := range []string{"", "24", "2024-1", "2023-02-29", "2024-02-13T25:00", "2024-02-13 14:45", "2024-02-13T14:45:00+1", "+024"} {
		if _, _, err := dateRange(bad); err == nil {
			t.Errorf("dateRange(%q) should fail", bad)
		}
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{"FERNÁNDEZ": "fernandez", "Siobhán": "siobhan", "Łukasz Żółć": "lukasz zolc", "Straße": "strasse", "O'BRIEN": "o'brien", "Ελένη": "ελένη"} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

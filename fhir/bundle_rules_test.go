package fhir

import (
	"strconv"
	"strings"
	"testing"
)

// Small Bundles for the Bundle rules, validated against the core definitions only.

const (
	urnPat     = "urn:uuid:4a45e179-ace1-4ace-9991-8276c0ba490a" // a Patient
	urnObs     = "urn:uuid:5a0e6d4c-7c7e-4d6f-9a57-0b8f5c1e2a03" // an Observation
	urnHead    = "urn:uuid:6b1f7e5d-8d8f-4e70-8b68-1c906d2f3b04" // a Composition or MessageHeader
	urnNone    = "urn:uuid:7c208f6e-9e90-4f81-9c79-2da17e304c05" // nothing
	bundleHead = `{"resourceType":"Bundle","id":"b","type":"`
)

func tbBundle(typ, extra string, entries ...string) string {
	return bundleHead + typ + `"` + extra + `,"entry":[` + strings.Join(entries, ",") + `]}`
}

func tbEntry(fullURL, resource string) string {
	if fullURL == "" {
		return `{"resource":` + resource + `}`
	}
	return `{"fullUrl":"` + fullURL + `","resource":` + resource + `}`
}

func tbPatient(id string) string { return `{"resourceType":"Patient","id":"` + id + `"}` }

func tbObs(id, subject string) string {
	return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"x"},"subject":{"reference":"` + subject + `"}}`
}

func tbComp(subject, section string) string {
	return `{"resourceType":"Composition","id":"c","status":"final","type":{"text":"t"},"date":"2024-01-01","title":"T","author":[{"display":"A"}],"subject":{"reference":"` +
		subject + `"},"section":[{"title":"s","entry":[{"reference":"` + section + `"}]}]}`
}

const tbDocExtra = `,"identifier":{"system":"urn:ietf:rfc:3986","value":"urn:uuid:0c1112c3-77b5-4d85-965c-0c26228ec7ef"},"timestamp":"2024-01-01T10:00:00Z"`

const tbObsSubject = "Bundle.entry[1].resource.ofType(Observation).subject"

// Each bdl-* invariant of the core Bundle definition runs, and fails where it should.
func TestBundleInvariants(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "bdl-1: total only in search or history sets", src: tbBundle("collection", `,"total":1`, tbEntry(urnPat, tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-1:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-2: entry.search only in search sets", src: tbBundle("collection", "", `{"fullUrl":"`+urnPat+`","resource":`+tbPatient("p")+`,"search":{"mode":"match"}}`),
			sev: SeverityError, msg: "Constraint failed: bdl-2:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-3: a transaction entry needs a request", src: tbBundle("transaction", "", tbEntry(urnPat, tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-3:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-4: a batch-response entry needs a response", src: tbBundle("batch-response", "", tbEntry(urnPat, tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-4:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-5: an entry needs a resource, a request or a response", src: tbBundle("collection", "", `{"fullUrl":"`+urnPat+`"}`),
			sev: SeverityError, msg: "Constraint failed: bdl-5:", loc: "Bundle.entry[0]", pos: "Line 1, Col 65"},
		{name: "bdl-7: a fullUrl is unique in a collection", src: tbBundle("collection", "", tbEntry(urnPat, tbPatient("p")), tbEntry(urnPat, tbPatient("q"))),
			sev: SeverityError, msg: "Constraint failed: bdl-7:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-7: the same fullUrl may come back with another meta.versionId",
			src: tbBundle("collection", "", tbEntry(urnPat, `{"resourceType":"Patient","id":"p","meta":{"versionId":"1"}}`), tbEntry(urnPat, `{"resourceType":"Patient","id":"p","meta":{"versionId":"2"}}`)),
			msg: "bdl-7", absent: true},
		{name: "bdl-7: the same fullUrl with the same meta.versionId is a duplicate",
			src: tbBundle("collection", "", tbEntry(urnPat, `{"resourceType":"Patient","id":"p","meta":{"versionId":"1"}}`), tbEntry(urnPat, `{"resourceType":"Patient","id":"p","meta":{"versionId":"1"}}`)),
			sev: SeverityError, msg: "Constraint failed: bdl-7:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-7: a history may repeat a fullUrl and version (the invariant exempts histories)",
			src: tbBundle("history", "",
				`{"fullUrl":"http://a.example/fhir/Patient/p","resource":{"resourceType":"Patient","id":"p","meta":{"versionId":"1"}},"request":{"method":"POST","url":"Patient"},"response":{"status":"201"}}`,
				`{"fullUrl":"http://a.example/fhir/Patient/p","resource":{"resourceType":"Patient","id":"p","meta":{"versionId":"1"}},"request":{"method":"PUT","url":"Patient/p"},"response":{"status":"200"}}`),
			msg: "bdl-7", absent: true},
		{name: "bdl-8: a fullUrl is not version specific", src: tbBundle("collection", "", tbEntry("http://a.example/fhir/Patient/p/_history/1", tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-8:", loc: "Bundle.entry[0]", pos: "Line 1, Col 65"},
		{name: "bdl-9: a document has an identifier with system and value", src: tbBundle("document", `,"timestamp":"2024-01-01T10:00:00Z"`, tbEntry(urnHead, tbComp(urnPat, urnPat)), tbEntry(urnPat, tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-9:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-10: a document has a timestamp", src: tbBundle("document", `,"identifier":{"system":"urn:x","value":"1"}`, tbEntry(urnHead, tbComp(urnPat, urnPat)), tbEntry(urnPat, tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-10:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-11: a document starts with a Composition", src: tbBundle("document", tbDocExtra, tbEntry(urnPat, tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-11:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "bdl-12: a message starts with a MessageHeader", src: tbBundle("message", "", tbEntry(urnPat, tbPatient("p"))),
			sev: SeverityError, msg: "Constraint failed: bdl-12:", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "a well-formed document raises none of them", src: tbBundle("document", tbDocExtra, tbEntry(urnHead, tbComp(urnPat, urnObs)), tbEntry(urnPat, tbPatient("p")), tbEntry(urnObs, tbObs("o", urnPat))),
			msg: "Constraint failed: bdl", absent: true},
	})
}

func TestBundleEntryRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "a RESTful fullUrl ends with the resource's id",
			src: tbBundle("collection", "", tbEntry("http://a.example/fhir/Patient/p1", tbPatient("p2"))), sev: SeverityError,
			msg: "Resource ID does not match the ID in the entry full URL ('p2' vs 'http://a.example/fhir/Patient/p1')", loc: "Bundle.entry[0]", pos: "Line 1, Col 65"},
		{name: "a relative fullUrl ends with the resource's id",
			src: tbBundle("collection", "", tbEntry("Patient/p1", tbPatient("p2"))), sev: SeverityError,
			msg: "Resource ID does not match the ID in the entry full URL ('p2' vs 'Patient/p1')", loc: "Bundle.entry[0]", pos: "Line 1, Col 65"},
		{name: "a urn:uuid fullUrl need not repeat the resource's id",
			src: tbBundle("collection", "", tbEntry(urnPat, tbPatient("p2"))), msg: "does not match the ID", absent: true},
		{name: "a urn:oid fullUrl need not repeat the resource's id",
			src: tbBundle("collection", "", tbEntry("urn:oid:1.2.208.176.1.2", tbPatient("p2"))), msg: "does not match the ID", absent: true},
		{name: "a relative reference resolves against the base of the entry's fullUrl",
			src: tbBundle("collection", "", tbEntry("http://a.example/fhir/Patient/p", tbPatient("p")), tbEntry("http://a.example/fhir/Observation/o", tbObs("o", "Patient/p"))),
			msg: "Bundle", absent: true},
		{name: "a urn:uuid reference resolves by fullUrl",
			src: tbBundle("collection", "", tbEntry(urnPat, tbPatient("p")), tbEntry(urnObs, tbObs("o", urnPat))), msg: "URN reference", absent: true},
		{name: "a relative reference resolves by Type/id when the fullUrls are relative too",
			src: tbBundle("collection", "", tbEntry("Patient/p", tbPatient("p")), tbEntry("Observation/o", tbObs("o", "Patient/p"))), msg: "bundle", absent: true},
		{name: "a relative reference in an entry without fullUrl cannot be resolved",
			src: tbBundle("collection", "", tbEntry(urnPat, tbPatient("p")), tbEntry("", tbObs("o", "Patient/p"))), sev: SeverityError,
			msg: "Relative Reference appears inside Bundle whose entry is missing a fullUrl", loc: tbObsSubject, pos: "Line 1, Col 294"},
		{name: "a urn:uuid reference to nothing in the Bundle is a warning",
			src: tbBundle("collection", "", tbEntry(urnPat, tbPatient("p")), tbEntry(urnObs, tbObs("o", urnNone))), sev: SeverityWarning,
			msg: "URN reference is not locally contained within the bundle " + urnNone, loc: tbObsSubject, pos: "Line 1, Col 388"},
		{name: "a conditional reference is only for transactions and batches",
			src: tbBundle("collection", "", tbEntry(urnPat, tbPatient("p")), tbEntry(urnObs, tbObs("o", "Patient?identifier=123"))), sev: SeverityError,
			msg: "Relative URLs must be of the format [ResourceName]/[id].  Encountered Patient?identifier=123", loc: tbObsSubject, pos: "Line 1, Col 365"},
		{name: "a conditional reference is fine in a transaction",
			src: tbBundle("transaction", "", `{"resource":`+tbPatient("p")+`,"request":{"method":"POST","url":"Patient"}}`,
				`{"resource":`+tbObs("o", "Patient?identifier=http://x.example|123")+`,"request":{"method":"POST","url":"Observation"}}`),
			msg: "Relative URLs", absent: true},
		{name: "a malformed search URL in a transaction is named as such",
			src: tbBundle("transaction", "", `{"resource":`+tbPatient("p")+`,"request":{"method":"POST","url":"Patient"}}`,
				`{"fullUrl":"`+urnObs+`","resource":`+tbObs("o", "Patient?=x")+`,"request":{"method":"POST","url":"Observation"}}`), sev: SeverityError,
			msg: "Relative URLs must be of the format [ResourceName]/[id], or a search URL is allowed ([type]?parameters.  Encountered Patient?=x)", loc: tbObsSubject, pos: "Line 1, Col 340"},
		{name: "a search URL with an empty value is fine in a transaction",
			src: tbBundle("transaction", "", `{"resource":`+tbObs("o", "Patient?identifier=1&what=")+`,"request":{"method":"POST","url":"Observation"}}`),
			msg: "Relative URLs", absent: true},
		{name: "a search URL whose query does not parse is named as such too",
			src: tbBundle("transaction", "", `{"resource":`+tbPatient("p")+`,"request":{"method":"POST","url":"Patient"}}`,
				`{"fullUrl":"`+urnObs+`","resource":`+tbObs("o", "Patient?=x")+`,"request":{"method":"POST","url":"Observation"}}`), sev: SeverityError,
			msg: "The query part of the conditional reference is not a valid query string (Patient?=x)", loc: tbObsSubject},
		{name: "a document section entry matching two entries names the count",
			src: tbBundle("document", tbDocExtra, tbEntry(urnHead, tbComp(urnPat, "http://a.example/Observation/o")), tbEntry(urnPat, tbPatient("p")),
				tbEntry("http://a.example/Observation/o", tbObs("o", urnPat)), tbEntry("http://a.example/Observation/o", tbObs("o", urnPat))), sev: SeverityError,
			msg: "Found 2 matches for 'http://a.example/Observation/o' in the bundle (Section Entry)", loc: "Bundle.entry[0].resource.ofType(Composition).section[0].entry[0].reference"},
		{name: "a versioned reference resolves to the entry with that versionId",
			src: tbBundle("collection", "", tbEntry("http://a.example/fhir/Patient/p", `{"resourceType":"Patient","id":"p","meta":{"versionId":"2"}}`),
				tbEntry("http://a.example/fhir/Observation/o", tbObs("o", "Patient/p/_history/2"))),
			msg: "versionId", absent: true},
		{name: "a versioned reference asks the matching entry for a versionId",
			src: tbBundle("collection", "", tbEntry("http://a.example/fhir/Patient/p", tbPatient("p")), tbEntry("http://a.example/fhir/Observation/o", tbObs("o", "Patient/p/_history/2"))),
			sev: SeverityWarning, msg: "Entries matching fullURL http://a.example/fhir/Patient/p should declare meta/versionId because there are version-specific references", loc: tbObsSubject, pos: "Line 1, Col 339"},
		{name: "a reference matching two entries of a history is ambiguous",
			src: tbBundle("history", "",
				`{"fullUrl":"http://a.example/fhir/Patient/p","resource":{"resourceType":"Patient","id":"p","meta":{"versionId":"1"}},"request":{"method":"POST","url":"Patient"},"response":{"status":"201"}}`,
				`{"fullUrl":"http://a.example/fhir/Patient/p","resource":{"resourceType":"Patient","id":"p","meta":{"versionId":"2"}},"request":{"method":"PUT","url":"Patient/p"},"response":{"status":"200"}}`,
				`{"fullUrl":"http://a.example/fhir/Observation/o","resource":`+tbObs("o", "Patient/p")+`,"request":{"method":"POST","url":"Observation"},"response":{"status":"201"}}`),
			sev: SeverityError, msg: "Multiple matches in bundle for reference Patient/p", loc: "Bundle.entry[2].resource.ofType(Observation).subject", pos: "Line 1, Col 613"},
		{name: "a reference whose type differs from the matching entry's resource",
			src: tbBundle("collection", "", tbEntry("urn:uuid:p", tbPatient("p")), tbEntry("urn:uuid:o", tbObs("o", "Group/p"))), sev: SeverityError,
			msg: "Matching reference for reference Group/p has resourceType Patient", loc: tbObsSubject, pos: "Line 1, Col 280"},
	})
}

func TestBundleTypeRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "a document needs entries", src: bundleHead + `document"` + tbDocExtra + `}`, sev: SeverityError,
			msg: "Documents or Messages must contain at least one entry", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "a document's first entry needs a resource", src: tbBundle("document", tbDocExtra, `{"fullUrl":"`+urnHead+`","request":{"method":"GET","url":"x"}}`), sev: SeverityError,
			msg: "No resource on first entry", loc: "Bundle.entry[0]", pos: "Line 1, Col 198"},
		{name: "a document starts with a Composition", src: tbBundle("document", tbDocExtra, tbEntry(urnPat, tbPatient("p"))), sev: SeverityError,
			msg: "The first entry in a document must be a composition", loc: "Bundle.entry[0].resource.ofType(Patient)", pos: "Line 1, Col 293"},
		{name: "a document's subject is in the document", src: tbBundle("document", tbDocExtra, tbEntry(urnHead, tbComp(urnNone, urnPat)), tbEntry(urnPat, tbPatient("p"))), sev: SeverityError,
			msg: "Can't find '" + urnNone + "' in the bundle (Composition.subject)", loc: "Bundle.entry[0].resource.ofType(Composition).subject.reference", pos: "Line 1, Col 473"},
		{name: "a document's section entries are in the document", src: tbBundle("document", tbDocExtra, tbEntry(urnHead, tbComp(urnPat, urnNone)), tbEntry(urnPat, tbPatient("p"))), sev: SeverityError,
			msg: "Can't find '" + urnNone + "' in the bundle (Section Entry)", loc: "Bundle.entry[0].resource.ofType(Composition).section[0].entry[0].reference", pos: "Line 1, Col 568"},
		{name: "a document entry nothing leads to is an orphan",
			src: tbBundle("document", tbDocExtra, tbEntry(urnHead, tbComp(urnPat, urnPat)), tbEntry(urnPat, tbPatient("p")), tbEntry(urnNone, tbPatient("q"))),
			sev: SeverityWarning, msg: "Entry '" + urnNone + "' isn't reachable by traversing from first Bundle entry", loc: "Bundle.entry[2]", pos: "Line 1, Col 682"},
		{name: "a document entry reached only backwards is suspect",
			src: tbBundle("document", tbDocExtra, tbEntry(urnHead, tbComp(urnPat, urnPat)), tbEntry(urnPat, tbPatient("p")), tbEntry(urnObs, tbObs("o", urnPat))),
			sev: SeverityWarning, msg: "Entry '" + urnObs + "' isn't reachable by traversing forwards from first Bundle entry", loc: "Bundle.entry[2]", pos: "Line 1, Col 682"},
		{name: "a Provenance may point backwards into a document",
			src: tbBundle("document", tbDocExtra, tbEntry(urnHead, tbComp(urnPat, urnPat)), tbEntry(urnPat, tbPatient("p")),
				tbEntry(urnNone, `{"resourceType":"Provenance","id":"v","target":[{"reference":"`+urnHead+`"}],"recorded":"2024-01-01T10:00:00Z","agent":[{"who":{"display":"x"}}]}`)),
			msg: "reachable", absent: true},
		{name: "a message starts with a MessageHeader", src: tbBundle("message", "", tbEntry(urnPat, tbPatient("p"))), sev: SeverityError,
			msg: "The first entry in a message must be a MessageHeader", loc: "Bundle.entry[0].resource.ofType(Patient)", pos: "Line 1, Col 157"},
		{name: "a message's focus is in the message",
			src: tbBundle("message", "", tbEntry(urnHead, `{"resourceType":"MessageHeader","id":"m","eventCoding":{"system":"http://x.example","code":"e"},"source":{"endpoint":"http://x.example"},"focus":[{"reference":"`+urnNone+`"}]}`)),
			sev: SeverityError, msg: "Can't find '" + urnNone + "' in the bundle (MessageHeader Data)", loc: "Bundle.entry[0].resource.ofType(MessageHeader).focus[0].reference", pos: "Line 1, Col 338"},
		{name: "a searchset says what the search was", src: tbBundle("searchset", "", `{"fullUrl":"`+urnPat+`","resource":`+tbPatient("p")+`,"search":{"mode":"match"}}`),
			sev: SeverityWarning, msg: "SearchSet Bundles should have a self link that specifies what the search was", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "searchset entries all carry a search mode once one does",
			src: tbBundle("searchset", `,"link":[{"relation":"self","url":"http://a.example/fhir/Patient?name=x"}]`,
				`{"fullUrl":"`+urnPat+`","resource":`+tbPatient("p")+`,"search":{"mode":"match"}}`, tbEntry(urnObs, tbPatient("q"))),
			sev: SeverityWarning, msg: "SearchSet bundles should have search modes on the entries", loc: "Bundle.entry[1]", pos: "Line 1, Col 2"},
		{name: "a searchset outcome entry is an OperationOutcome",
			src: tbBundle("searchset", `,"link":[{"relation":"self","url":"http://a.example/fhir/Patient?name=x"}]`,
				`{"fullUrl":"`+urnPat+`","resource":`+tbPatient("p")+`,"search":{"mode":"outcome"}}`),
			sev: SeverityError, msg: "This is not an OperationOutcome (Patient)", loc: "Bundle.entry[0].resource.ofType(Patient)", pos: "Line 1, Col 2"},
		{name: "searchset matches have ids",
			src: tbBundle("searchset", `,"link":[{"relation":"self","url":"http://a.example/fhir/Patient?name=x"}]`,
				`{"fullUrl":"`+urnPat+`","resource":{"resourceType":"Patient","active":true},"search":{"mode":"match"}}`),
			sev: SeverityError, msg: "Search results must have ids", loc: "Bundle.entry[0].resource.ofType(Patient)", pos: "Line 1, Col 2"},
		{name: "a searchset without modes mixing types is a warning",
			src: tbBundle("searchset", `,"link":[{"relation":"self","url":"http://a.example/fhir/Patient?name=x"}]`, tbEntry(urnPat, tbPatient("p")), tbEntry(urnObs, tbObs("o", urnPat))),
			sev: SeverityWarning, msg: "SearchSet bundles should have search modes on the entries", loc: "Bundle", pos: "Line 1, Col 2"},
		{name: "a collection has none of the document, message or searchset rules",
			src: tbBundle("collection", "", tbEntry(urnPat, tbPatient("p"))), msg: "first entry", absent: true},
	})
}

const tbNarrative = `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}`

func TestContainedRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "a contained resource needs an id",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","name":"x"}]}`, sev: SeverityError,
			msg: "Resource requires an id, but none is present", loc: "Patient.contained[0].ofType(Organization)", pos: "Line 1, Col 140"},
		{name: "contained ids are unique",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","name":"x"},{"resourceType":"Organization","id":"o","name":"y"}],"managingOrganization":{"reference":"#o"}}`,
			sev: SeverityError, msg: "Duplicate id value 'o'", loc: "Patient.contained[1].ofType(Organization)", pos: "Line 1, Col 192"},
		{name: "a contained resource nobody refers to is an orphan (a warning beside the dom-3 error)",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","name":"x"}]}`, sev: SeverityWarning,
			msg: "The contained resource 'o' is not referenced to from elsewhere in the containing resource nor does it refer to the containing resource (dom-3)",
			loc: "Patient.contained[0].ofType(Organization)", pos: "Line 1, Col 140"},
		{name: "a contained resource referred to with #id is no orphan",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","name":"x"}],"managingOrganization":{"reference":"#o"}}`,
			msg: "dom-3", absent: true},
		{name: "a contained resource referring to its container with # is no orphan",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"subject":{"reference":"#"}}]}`,
			msg: "dom-3", absent: true},
		{name: "a contained resource referred to from another contained one is no orphan",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","name":"x"},{"resourceType":"Organization","id":"o2","name":"y","partOf":{"reference":"#o"}}],"managingOrganization":{"reference":"#o2"}}`,
			msg: "dom-3", absent: true},
		{name: "dom-2: contained resources contain nothing",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","name":"x","contained":[{"resourceType":"Organization","id":"o2","name":"y"}]}],"managingOrganization":{"reference":"#o"}}`,
			sev: SeverityError, msg: "Constraint failed: dom-2:", loc: "Patient", pos: "Line 1, Col 2"},
		{name: "dom-4: contained resources have no meta.versionId",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","meta":{"versionId":"1"},"name":"x"}],"managingOrganization":{"reference":"#o"}}`,
			sev: SeverityError, msg: "Constraint failed: dom-4:", loc: "Patient", pos: "Line 1, Col 2"},
		{name: "dom-5: contained resources have no security labels",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},"name":"x"}],"managingOrganization":{"reference":"#o"}}`,
			sev: SeverityError, msg: "Constraint failed: dom-5:", loc: "Patient", pos: "Line 1, Col 2"},
		{name: "dom-6: a resource without narrative is a warning only",
			src: `{"resourceType":"Patient","id":"p"}`, sev: SeverityWarning, msg: "Constraint failed: dom-6:", loc: "Patient", pos: "Line 1, Col 2"},
		{name: "contained resources of Bundle entries are checked per entry",
			src: tbBundle("collection", "", tbEntry(urnPat, `{"resourceType":"Patient","id":"p",`+tbNarrative+`,"contained":[{"resourceType":"Organization","id":"o","name":"x"}]}`)),
			sev: SeverityWarning, msg: "The contained resource 'o' is not referenced", loc: "Bundle.entry[0].resource.ofType(Patient).contained[0].ofType(Organization)", pos: "Line 1, Col 273"},
		{name: "dom-3: the orphan is also the invariant's error, at the container",
			src: `{"resourceType":"Patient","id":"p",` + tbNarrative + `,"contained":[{"resourceType":"Organization","id":"o","name":"x"}]}`, sev: SeverityError,
			msg: "Constraint failed: dom-3:", loc: "Patient", pos: "Line 1, Col 2"},
	})
}

// The Care Gateway seed Bundles (relative fullUrls such as Patient/4a45…, references by
// Type/id) raise none of the Bundle rules.
func TestBundleRulesAcceptTheSeedBundles(t *testing.T) {
	for _, c := range []struct {
		v    func(testing.TB) *Validator
		path string
	}{{validator104, seedPath}, {validator120, "testdata/care-delivery-report-1.2.0.json"}} {
		oo := validate(t, c.v(t), readFile(t, c.path))
		for _, is := range oo.Issue {
			if is.Severity != SeverityInformation && strings.Contains(is.Location[0], "Bundle") &&
				(strings.Contains(is.Diagnostics, "fullUrl") || strings.Contains(is.Diagnostics, "bundle") || strings.Contains(is.Diagnostics, "Relative")) {
				t.Errorf("%s: %s %s @ %s", c.path, is.Severity, is.Diagnostics, is.Location)
			}
		}
	}
}

// The Bundle and contained rules cost the same per entry however many entries there are
// (counted in allocations, never in wall time).
func TestBundleRulesAreLinear(t *testing.T) {
	v := testValidator(t)
	gen := func(k int) *node {
		var es []string
		for i := range k {
			id := strconv.Itoa(i)
			es = append(es, tbEntry("http://a.example/fhir/Observation/o"+id, `{"resourceType":"Observation","id":"o`+id+`",`+tbNarrative+
				`,"contained":[{"resourceType":"Patient","id":"c"}],"status":"final","code":{"text":"x"},"subject":{"reference":"#c"},`+
				`"hasMember":[{"reference":"Observation/o`+strconv.Itoa((i+1)%k)+`"},{"reference":"http://a.example/fhir/Observation/o0"},{"reference":"`+urnNone+`"}]}`))
		}
		j, err := parseJSON([]byte(tbBundle("document", tbDocExtra, es...)))
		if err != nil {
			t.Fatal(err)
		}
		return (&reader{types: v.types, issues: &issues{}}).readResource(j, nil, "")
	}
	cost := func(root *node) float64 {
		return testing.AllocsPerRun(3, func() {
			c := &vctx{v: v, is: &issues{}}
			c.bundleRules(root)
			c.containedRules(root)
		})
	}
	small, large := cost(gen(100)), cost(gen(800))
	if large > 1.5*8*small+64 {
		t.Errorf("%.0f allocations for 100 entries but %.0f for 800: not linear", small, large)
	}
}

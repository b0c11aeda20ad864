package hl7tofhir

import (
	"encoding/base64"
	"testing"
)

// txaFor is a TXA for document DOC-2 (parent DOC-1), authenticated (AU) and
// available (AV) unless the caller changes those.
func txaFor(completion, availability string) string {
	return "TXA|1|11488-4^Consult note^LN|TX|20240617100000||20240617110000|||" + ordDr +
		"|||DOC-2^EPR|DOC-1^EPR||||" + completion + "||" + availability + "||||||Consult note"
}

func TestEachMDMEventGivesTheDocumentItsStatusAndRelation(t *testing.T) {
	const appends = `[{"code":"appends","target":{"type":"DocumentReference","identifier":{"system":"urn:junction:id:EPR","value":"DOC-1"}}}]`
	const replaces = `[{"code":"replaces","target":{"type":"DocumentReference","identifier":{"system":"urn:junction:id:EPR","value":"DOC-1"}}}]`
	tests := []struct {
		event, completion, availability, want string
	}{
		{"T01", "DI", "UN", `{"status":"current","docStatus":"preliminary","relatesTo":"absent"}`},
		{"T02", "AU", "AV", `{"status":"current","docStatus":"final","relatesTo":"absent"}`},
		{"T03", "LA", "OB", `{"status":"superseded","docStatus":"final"}`},
		{"T04", "AU", "", `{"status":"current","docStatus":"final"}`},
		{"T05", "AU", "AV", `{"docStatus":"final","relatesTo":` + appends + `}`},
		{"T06", "IP", "AV", `{"docStatus":"preliminary","relatesTo":` + appends + `}`},
		{"T07", "AU", "AV", `{"docStatus":"amended","relatesTo":` + replaces + `}`},
		{"T08", "LA", "AV", `{"docStatus":"amended","relatesTo":` + replaces + `}`},
		{"T09", "AU", "AV", `{"docStatus":"final","relatesTo":` + replaces + `}`},
		{"T10", "PA", "AV", `{"docStatus":"preliminary","relatesTo":` + replaces + `}`},
		{"T11", "AU", "AV", `{"status":"entered-in-error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			segs := []string{mshOf("MDM^"+tt.event+"^MDM_T02", "2.5.1"), ordPID, ordPV1, txaFor(tt.completion, tt.availability)}
			if tt.event == "T02" || tt.event == "T04" || tt.event == "T06" || tt.event == "T08" || tt.event == "T10" {
				segs = append(segs, "OBX|1|TX|11488-4^Consult note^LN||Text||||||F")
			}
			res := convertOrder(t, segs...)
			expectElements(t, only(t, res, "DocumentReference"), tt.want)
			expectWarnings(t, res)
		})
	}
}

func TestANotificationWithoutContentNamesTheDocumentInItsAttachment(t *testing.T) {
	res := convertOrder(t, mshOf("MDM^T01^MDM_T01", "2.5.1"), ordPID, txaFor("DI", "UN"))
	expectElements(t, only(t, res, "DocumentReference"),
		`{"content":[{"attachment":{"contentType":"text/plain","title":"Consult note"}}],
		  "masterIdentifier":{"system":"urn:junction:id:EPR","value":"DOC-2"},"description":"Consult note"}`)
}

func TestTheOBXOfAnMDMAreTheDocumentsContentNotObservations(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4"))
	res := convertOrder(t, mshOf("MDM^T02^MDM_T02", "2.5.1"), ordPID, txaFor("AU", "AV"),
		"OBX|1|TX|11488-4^Consult note^LN||Line one~Line two||||||F",
		"OBX|2|FT|11488-4^Consult note^LN||\\H\\Plan\\N\\: rest||||||F",
		"OBX|3|ED|11488-4^Consult note^LN||^IM^JPEG^Hex^FFD8FF||||||F",
		"OBX|4|ED|11488-4^Consult note^LN||^AP^PDF^Base64^"+pdf+"||||||F",
		"OBX|5|RP|11488-4^Consult note^LN||https://docs.example.nhs.uk/DOC-2.pdf^DOCSTORE^AP^PDF||||||F",
		"OBX|6|ED|11488-4^Consult note^LN||^AP^PDF^Base64^not*base64||||||F",
		"OBX|7|NM|8867-4^Heart rate^LN||72|/min^^UCUM|||||F")
	if n := len(ordResources(t, res, "Observation")); n != 0 {
		t.Errorf("got %d Observations, want none: an MDM's OBX are document content", n)
	}
	text := base64.StdEncoding.EncodeToString([]byte("Line one\nLine two"))
	ft := base64.StdEncoding.EncodeToString([]byte("\\H\\Plan\\N\\: rest"))
	jpeg := base64.StdEncoding.EncodeToString([]byte{0xFF, 0xD8, 0xFF})
	expectElements(t, only(t, res, "DocumentReference"), `{"content":[
		{"attachment":{"contentType":"text/plain","data":"`+text+`"}},
		{"attachment":{"contentType":"text/hl7v2","data":"`+ft+`"}},
		{"attachment":{"contentType":"image/jpeg","data":"`+jpeg+`"}},
		{"attachment":{"contentType":"application/pdf","data":"`+pdf+`"}},
		{"attachment":{"contentType":"application/pdf","url":"https://docs.example.nhs.uk/DOC-2.pdf"}}]}`)
	expectWarnings(t, res, "OBX[6]-5.5", "OBX[7]-2")
}

func TestAnMDMEditWithoutItsParentDocumentNumberIsAWarning(t *testing.T) {
	txa := "TXA|1|11488-4^Consult note^LN|TX|||||||||DOC-2^EPR|||||AU||AV"
	res := convertOrder(t, mshOf("MDM^T08^MDM_T02", "2.5.1"), ordPID, txa, "OBX|1|TX|11488-4^Consult note^LN||Text||||||F")
	expectWarnings(t, res, "TXA-13")
	expectElements(t, only(t, res, "DocumentReference"), `{"relatesTo":"absent","docStatus":"amended"}`)
}

func TestBadTXAStatusesAreWarningsAndTheDocumentStillConverts(t *testing.T) {
	res := convertOrder(t, mshOf("MDM^T02^MDM_T02", "2.5.1"), ordPID, txaFor("ZZ", "QQ"), "OBX|1|TX|11488-4^Consult note^LN||Text||||||F")
	expectWarnings(t, res, "TXA-19", "TXA-17")
	expectElements(t, only(t, res, "DocumentReference"), `{"status":"current","docStatus":"absent"}`)
}

func TestAnMDMDocumentIsRelatedToTheOrdersOfItsMessage(t *testing.T) {
	res := convertOrder(t, mshOf("MDM^T02^MDM_T02", "2.5.1"), ordPID,
		"ORC|RE|ORD1^EPR", "OBR|1|ORD1^EPR||71045^Chest X-ray^C4",
		"ORC|RE|ORD2^EPR", "OBR|1|ORD2^EPR||71046^Chest X-ray 2 views^C4", "NTE|1||Comparison with prior",
		txaFor("AU", "AV"), "OBX|1|TX|11488-4^Consult note^LN||Text||||||F")
	doc := only(t, res, "DocumentReference")
	ctx, _ := doc["context"].(map[string]any)
	related, _ := ctx["related"].([]any)
	if len(related) != 2 {
		t.Errorf("context.related %s, want both ServiceRequests", brief(ctx["related"]))
	}
	for _, sr := range ordResources(t, res, "ServiceRequest") {
		if sr["code"] == nil {
			t.Errorf("ServiceRequest without its OBR's code: %s", brief(sr))
		}
	}
}

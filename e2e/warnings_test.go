package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// apiWarned is what GET /api/messages/{id} says of a conversion's warnings.
type apiWarned struct {
	Status       string `json:"status"`
	WarningCount int    `json:"warning_count"`
	Warnings     []struct {
		Path, Value, Problem, Expected, Text string
	} `json:"warnings"`
	Destinations []APIDestination `json:"destinations"`
}

// oruBadNM is a lab result whose OBX-5, an NM value, repeats: it does not convert.
func oruBadNM(controlID string) string {
	return strings.Join([]string{
		`MSH|^~\&|LAB|RX1|JUNCTION|RX1|20240213144932||ORU^R01^ORU_R01|` + controlID + `|P|2.4`,
		`PID|1||9434765919^^^NHS^NH||Smith^Maria||19850317|F`,
		`OBR|1||LAB-` + controlID + `|GLU^Glucose`,
		`OBX|1|NM|GLU^Glucose||60~120|mmol/L|||||F`,
	}, "\r") + "\r"
}

// The bundled ed-adt channel converts with setBody(toFHIR()) into its FHIR store. A
// message with a field that does not convert is still accepted (AA) and delivered: the
// FHIR store gets the Patient, and the message log keeps the warning (through a
// restart), listed with warnings=yes.
func TestAConversionWarningIsAcceptedStoredWithTheMessageAndTheFHIRStoreGetsThePatient(t *testing.T) {
	j := startJunction(t, bundledRoutes(t), map[string]string{"GATEWAY": freeAddr(t)})
	badDate := setField(t, setField(t, adt("WARN-2", "Datebad"), "PID", 3, 0, "9876543210^^^NHS^NH"), "PID", 7, 0, "19801301")
	cases := []struct {
		name, msg, nhs, path, value string
		id                          int64
	}{
		{name: "an NM OBX-5 that repeats", msg: oruBadNM("WARN-1"), nhs: "9434765919", path: "OBX-5", value: "60~120"},
		{name: "a PID-7 that is no date", msg: badDate, nhs: "9876543210", path: "PID-7", value: "19801301"},
	}
	for i := range cases {
		c := &cases[i]
		r := postHL7(t, j.IngestURL(), "emergency-care", c.msg)
		if ack := parseACK(t, r.Body); r.Status != 200 || ack.Code() != "AA" {
			t.Fatalf("%s: answered %d %s, want 200 AA", c.name, r.Status, r.Body)
		}
		if c.id = r.MessageID(); c.id == 0 {
			t.Fatalf("%s: no Junction-Message-Id in %v", c.name, r.Header)
		}
	}
	check := func(when string) {
		t.Helper()
		var ids []int64
		for _, c := range cases {
			var m apiWarned
			if err := j.apiGet("/api/messages/"+strconv.FormatInt(c.id, 10), &m); err != nil {
				t.Fatal(err)
			}
			if m.Status == "ERROR" || m.WarningCount != 1 || len(m.Warnings) != 1 {
				t.Fatalf("%s, %s: message %d is %s with warnings %d %+v", c.name, when, c.id, m.Status, m.WarningCount, m.Warnings)
			}
			// OBX-5 may be written OBX[1]-5.
			w := m.Warnings[0]
			seg, field, _ := strings.Cut(c.path, "-")
			if !strings.HasPrefix(w.Path, seg) || !strings.HasSuffix(w.Path, "-"+field) || w.Value != c.value || w.Expected == "" ||
				!strings.Contains(w.Text, strconv.Quote(c.value)) {
				t.Errorf("%s, %s: warning %+v", c.name, when, w)
			}
			ids = append([]int64{c.id}, ids...)
		}
		var listed []int64
		for _, m := range j.Messages(t, "channel=ed-adt&warnings=yes") {
			listed = append(listed, m.ID)
		}
		if fmt.Sprint(listed) != fmt.Sprint(ids) {
			t.Errorf("%s: warnings=yes lists %v, want %v", when, listed, ids)
		}
	}
	for _, c := range cases {
		j.WaitMessage(t, c.id, "delivered to the FHIR store", func(m APIMessage) bool {
			d := m.Destination("fhir-store")
			return m.Status == "SENT" && d != nil && d.Status == "SENT"
		})
		// The FHIR store has the Patient of the message.
		waitFor(t, 20*time.Second, c.name+": the Patient in the FHIR store", func() (bool, string) {
			resp, err := http.Get("http://" + j.Ingest + "/Patient?_id=" + c.nhs)
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			var b struct{ Total int }
			if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
				return false, err.Error()
			}
			return resp.StatusCode == 200 && b.Total == 1, fmt.Sprintf("%d, %d patients", resp.StatusCode, b.Total)
		})
	}
	check("delivered")

	// A clean message has none, and is not listed with warnings=yes.
	r := postHL7(t, j.IngestURL(), "emergency-care", adt("CLEAN-1", "Clean"))
	if ack := parseACK(t, r.Body); ack.Code() != "AA" {
		t.Fatalf("clean ADT answered %s", r.Body)
	}
	var clean apiWarned
	if err := j.apiGet("/api/messages/"+strconv.FormatInt(r.MessageID(), 10), &clean); err != nil || clean.WarningCount != 0 || clean.Warnings != nil {
		t.Errorf("the clean message: %+v %v", clean, err)
	}

	j.Stop()
	j.Start()
	check("after a restart")
}

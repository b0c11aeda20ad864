package hl7tofhir

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	mshSIU = "MSH|^~\\&|TRAKCARE|RX1|JUNCTION|RX1|20240612091500||SIU^%s^SIU_S12|SIU-9|P|2.5.1"
	pidSIU = "PID|1||4857773456^^^NHS^NH||PATEL^Ravi||19780105|M"
	schSIU = "SCH|PL-1^TC|APT-1^TC|||||||20|min|^^20^20240620143000^20240620145000||||||||||||||%s"
)

// schedConvert converts a message of the given segments with the golden
// options, failing the test on a refusal.
func schedConvert(t *testing.T, segs ...string) *Result {
	t.Helper()
	c, err := NewConverter(goldenOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Convert([]byte(strings.Join(segs, "\r") + "\r"))
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return res
}

// schedResources returns the Bundle's resources of type rt as JSON maps.
func schedResources(t *testing.T, res *Result, rt string) []map[string]any {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(res.JSON(), &b); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == rt {
			out = append(out, e.Resource)
		}
	}
	return out
}

// schedWarnings lists the paths of the conversion's warnings.
func schedWarnings(res *Result) []string {
	var out []string
	for _, w := range res.Warnings {
		out = append(out, w.Path)
	}
	return out
}

func schedf(format, v string) string { return strings.Replace(format, "%s", v, 1) }

func TestAppointmentStatusFollowsTheEventAndSCH25(t *testing.T) {
	tests := []struct {
		event, sch25, want string
	}{
		{"S12", "", "booked"},
		{"S12", "Pending", "pending"},
		{"S12", "Waitlist", "waitlist"},
		{"S14", "Started", "checked-in"},
		{"S14", "Complete", "fulfilled"},
		{"S13", "Booked", "booked"},
		{"S15", "", "cancelled"},
		{"S15", "Booked", "cancelled"}, // the cancel event wins over a stale SCH-25
		{"S17", "", "entered-in-error"},
		{"S26", "", "noshow"},
		{"S26", "Booked", "noshow"},
		{"S14", "Noshow", "noshow"},
		{"S14", "Deleted", "entered-in-error"},
	}
	for _, tt := range tests {
		t.Run(tt.event+"_"+tt.sch25, func(t *testing.T) {
			res := schedConvert(t, schedf(mshSIU, tt.event), schedf(schSIU, tt.sch25), pidSIU)
			appts := schedResources(t, res, "Appointment")
			if len(appts) != 1 || appts[0]["status"] != tt.want {
				t.Fatalf("got %v, want one Appointment with status %s", appts, tt.want)
			}
			if len(res.Warnings) > 0 {
				t.Errorf("warnings: %v", res.Warnings)
			}
		})
	}
}

func TestAnUnmappedFillerStatusIsAWarningAndTheEventDecides(t *testing.T) {
	res := schedConvert(t, schedf(mshSIU, "S12"), schedf(schSIU, "Blocked"), pidSIU)
	if a := schedResources(t, res, "Appointment"); a[0]["status"] != "booked" {
		t.Errorf("status %v, want booked", a[0]["status"])
	}
	if got := schedWarnings(res); len(got) != 1 || got[0] != "SCH-25" {
		t.Errorf("warnings at %v, want SCH-25", got)
	}
}

func TestRescheduleAndCancelUpdateTheSameAppointment(t *testing.T) {
	ids := map[string]bool{}
	for _, ev := range []string{"S12", "S13", "S14", "S15", "S26"} {
		res := schedConvert(t, schedf(mshSIU, ev), schedf(schSIU, ""), pidSIU)
		ids[schedResources(t, res, "Appointment")[0]["id"].(string)] = true
	}
	if len(ids) != 1 {
		t.Errorf("five events for one filler appointment ID made %d Appointments", len(ids))
	}
}

func TestAppointmentTimesComeFromTheResourcesWhenSCH11IsEmpty(t *testing.T) {
	res := schedConvert(t, schedf(mshSIU, "S12"), "SCH|PL-1^TC|APT-1^TC", pidSIU,
		"RGS|1", "AIS|1|A|CARDFU^Follow-up^L|20240620143000|||30|min",
		"AIP|1|A|C1^DOC^A^^^^^^RX1|ATND||20240620143000|||2|h||Pending")
	a := schedResources(t, res, "Appointment")[0]
	if a["start"] != "2024-06-20T14:30:00+01:00" || a["end"] != "2024-06-20T15:00:00+01:00" {
		t.Errorf("start %v end %v, want 14:30 to 15:00 (AIS-4 + AIS-7)", a["start"], a["end"])
	}
	parts := a["participant"].([]any)
	aip := parts[len(parts)-1].(map[string]any)
	if aip["status"] != "tentative" || aip["period"].(map[string]any)["end"] != "2024-06-20T16:30:00+01:00" {
		t.Errorf("AIP participant %v, want tentative until 16:30", aip)
	}
}

func TestAResourceOffsetIsFromTheAppointmentStart(t *testing.T) {
	res := schedConvert(t, schedf(mshSIU, "S12"), schedf(schSIU, ""), pidSIU,
		"AIL|1|A|CARD^CR2^^RX1||||15|min|45|min")
	parts := schedResources(t, res, "Appointment")[0]["participant"].([]any)
	p := parts[len(parts)-1].(map[string]any)["period"].(map[string]any)
	if p["start"] != "2024-06-20T14:45:00+01:00" || p["end"] != "2024-06-20T15:30:00+01:00" {
		t.Errorf("AIL period %v, want 14:45 to 15:30", p)
	}
}

func TestBadSchedulingFieldsAreWarningsAndTheRestConverts(t *testing.T) {
	res := schedConvert(t, schedf(mshSIU, "S12"),
		"SCH|PL-1^TC|APT-1^TC|||||||twenty|min|^^20^20240620^20240699||||||||||||Booked", pidSIU,
		"AIP|1|A|C1^DOC^A|ATND||2024062014300|||20|fortnights||Maybe",
		"AIG|1|A")
	// No time survives, so the booked Appointment is proposed (R4 app-3).
	want := []string{"SCH-9", "SCH-11.4", "SCH-11.5", "AIP-6", "AIP-12", "AIG", "SCH-11"}
	got := schedWarnings(res)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("warnings at %v, want %v", got, want)
	}
	a := schedResources(t, res, "Appointment")
	if len(a) != 1 || a[0]["status"] != "proposed" {
		t.Fatalf("Appointments %v, want one proposed", a)
	}
}

func TestAResourceSegmentWithoutSCHIsAWarning(t *testing.T) {
	res := schedConvert(t, schedf(mshSIU, "S12"), pidSIU, "AIL|1|A|CARD^^^RX1")
	if got := schedWarnings(res); len(got) != 1 || got[0] != "AIL" {
		t.Errorf("warnings at %v, want AIL", got)
	}
}

func TestAGeneralResourceThatIsALocationIsALocation(t *testing.T) {
	res := schedConvert(t, schedf(mshSIU, "S12"), schedf(schSIU, ""), pidSIU,
		"AIG|1|A|ROOM7^Room 7^L|ROOM^Room^L", "AIG|2|A|ECG1^ECG^L|EQ^Equipment^L")
	if l := schedResources(t, res, "Location"); len(l) != 1 || l[0]["name"] != "Room 7" {
		t.Errorf("Locations %v, want Room 7", l)
	}
	if h := schedResources(t, res, "HealthcareService"); len(h) != 1 || h[0]["name"] != "ECG" {
		t.Errorf("HealthcareServices %v, want ECG", h)
	}
}

func TestSlotEventsMakeNoAppointment(t *testing.T) {
	res := schedConvert(t, schedf(mshSIU, "S23"), schedf(schSIU, "Blocked"), pidSIU, "AIL|1|A|CARD^^^RX1")
	if a := schedResources(t, res, "Appointment"); len(a) != 0 {
		t.Errorf("SIU^S23 (blocked slots) made Appointments %v", a)
	}
	if got := strings.Join(res.Ignored, " "); !strings.Contains(got, "SCH") || !strings.Contains(got, "AIL") {
		t.Errorf("Ignored %v, want SCH and AIL", res.Ignored)
	}
}

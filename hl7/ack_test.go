package hl7

import (
	"strings"
	"testing"
	"time"
)

func TestACKBytes(t *testing.T) {
	a := ACK{
		SendingApp: "DEX", SendingFacility: "QVV", ReceivingApp: "emergency-care", ReceivingFacility: "r0d",
		Time:      time.Date(2024, 2, 13, 14, 49, 32, 0, time.UTC),
		ControlID: "30d831e4-7f40-4bb9-9322-a42bfbc28bc5", ProcessingID: "P", Version: "2.4",
		Code: "AE", RefControlID: "8457239", Text: `{"resourceType":"OperationOutcome",...}`,
	}
	want := "MSH|^~\\&|DEX|QVV|emergency-care|r0d|20240213144932||ACK|30d831e4-7f40-4bb9-9322-a42bfbc28bc5|P|2.4\r" +
		`MSA|AE|8457239|{"resourceType":"OperationOutcome",...}` + "\r"
	if got := string(a.Bytes()); got != want {
		t.Errorf("Bytes():\n got %q\nwant %q", got, want)
	}

	a.Text = `{"issue":[{"diagnostics":"bad \"PID-3\" ^ here|there"}]}`
	a.SendingApp = "A&B"
	a.Time = time.Time{}
	got := string(a.Bytes())
	wantMSH := "MSH|^~\\&|A\\T\\B|QVV|emergency-care|r0d|||ACK|"
	wantMSA := `MSA|AE|8457239|{"issue":[{"diagnostics":"bad \E\"PID-3\E\" \S\ here\F\there"}]}` + "\r"
	if !strings.HasPrefix(got, wantMSH) || !strings.HasSuffix(got, wantMSA) {
		t.Errorf("Bytes() with escapes:\n got %q\nwant %q...%q", got, wantMSH, wantMSA)
	}
	code, ref, text, err := ParseACK([]byte(got))
	if err != nil || code != "AE" || ref != "8457239" || text != a.Text {
		t.Errorf("ParseACK(ACK.Bytes()) = %q, %q, %q, %v", code, ref, text, err)
	}
	m := mustParse(t, got)
	if v, _ := m.Get("MSH-3"); v != "A&B" {
		t.Errorf("MSH-3 = %q", v)
	}
	if typ, _, id, ver := m.Header(); typ != "ACK" || id != a.ControlID || ver != "2.4" {
		t.Errorf("Header() = %q, %q, %q", typ, id, ver)
	}
}

func TestParseACK(t *testing.T) {
	tests := []struct {
		in              string
		code, ref, text string
		wantErr         string
	}{
		{in: "MSH|^~\\&|B|B|A|A|20240213144932||ACK^A01|99|P|2.4\rMSA|AA|MSG1\r", code: "AA", ref: "MSG1"},
		{in: "\x0bMSH|^~\\&|B|B|A|A|20240213144932||ACK|99|P|2.4\r\nMSA|AE|MSG1|Unknown NHS number 0000000000\r\n\x1c\r",
			code: "AE", ref: "MSG1", text: "Unknown NHS number 0000000000"},
		{in: "MSH|^~\\&|B|B|A|A|20240213144932||ACK|99|P|2.4\rMSA|AR|MSG1|Fern\\XC3A1\\ndez: bad \\S\\ value\r", code: "AR", ref: "MSG1", text: "Fernández: bad ^ value"},
		{in: "MSH|^~\\&|B|B|A|A|20240213144932||ACK|99|P|2.5\rMSA|AE|MSG1\rERR||PID^1^3|101^Required field missing^HL70357|E||||NHS number missing\r",
			code: "AE", ref: "MSG1", text: "NHS number missing"},
		{in: "MSH|^~\\&|B|B|A|A|20240213144932||ACK|99|P|2.4\rMSA|CA|MSG1\r", code: "CA", ref: "MSG1"},
		{in: "MSH|^~\\&|B|B|A|A|20240213144932||ACK|99|P|2.4\r", wantErr: "MSA: expected an MSA segment in the acknowledgement"},
		{in: "MSH|^~\\&|B|B|A|A|20240213144932||ACK|99|P|2.4\rMSA|OK|MSG1\r", wantErr: `MSA-1: expected an acknowledgement code (AA, AE, AR, CA, CE or CR), got "OK"`},
		{in: "MSH|^~\\&|B|B|A|A|20240213144932||ACK|99|P|2.4\rMSA\r", wantErr: `MSA-1: expected an acknowledgement code (AA, AE, AR, CA, CE or CR), got ""`},
		{in: "garbage", wantErr: `segment 1: expected a message starting with "MSH", got "garbage"`},
	}
	for _, tt := range tests {
		code, ref, text, err := ParseACK([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseACK(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || code != tt.code || ref != tt.ref || text != tt.text {
			t.Errorf("ParseACK(%q) = %q, %q, %q, %v; want %q, %q, %q", tt.in, code, ref, text, err, tt.code, tt.ref, tt.text)
		}
	}
}

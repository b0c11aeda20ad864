package hl7tofhir

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	mshDFT = "MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240701103000||DFT^P03^DFT_P03|DFT-9|P|2.5.1"
	pidDFT = "PID|1||4857773456^^^NHS^NH||PATEL^Ravi||19780105|M||||||||||ACC-1^^^RX1^AN"
	pv1DFT = "PV1|1|O|CARD^^^RX1||||||||||||||||V1^^^RX1^VN"
)

// largeDFT is a DFT^P03 with n FT1 charges, each with its own transaction
// ID, performer and diagnosis: n+4 segments.
func largeDFT(n int) []byte {
	var b strings.Builder
	b.Grow(n * 160)
	b.WriteString(mshDFT + "\r" + pidDFT + "\r" + pv1DFT + "\r")
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		b.WriteString("FT1|" + id + "|TXN-" + id + "||20240620143000|20240701|CG|ECG12^12-lead ECG^L|||1|35.50&GBP|35.50&GBP" +
			"|||||||I25.10^Coronary disease^I10|C" + id + "^DOC^A^^^^^^RX1\r")
	}
	b.WriteString("IN1|1|PLAN^Plan^L|INS1^^^RX1|Insurer|||||||||||||SEL\r")
	return []byte(b.String())
}

func TestEachFT1IsAChargeItemOnTheAccount(t *testing.T) {
	res := schedConvert(t, mshDFT, pidDFT, pv1DFT,
		"FT1|1|T1||20240620143000^20240620150000|20240701|CG|A^Consult^L|||2|10&GBP|5.00&GBP",
		"FT1|2|T2||20240620|20240701|PY|PAY^Payment^L",
		"FT1|3|T3||20240620|20240701|CG||Dressing pack")
	charges := schedResources(t, res, "ChargeItem")
	if len(charges) != 2 {
		t.Fatalf("got %d ChargeItems, want 2 (the payment is not a charge)", len(charges))
	}
	first := charges[0]
	if p := first["occurrencePeriod"].(map[string]any); p["end"] != "2024-06-20T15:00:00+01:00" {
		t.Errorf("occurrencePeriod %v, want FT1-4 as a DR period", p)
	}
	if q := first["quantity"].(map[string]any); q["value"].(float64) != 2 {
		t.Errorf("quantity %v, want 2", q)
	}
	if m := first["priceOverride"].(map[string]any); m["currency"] != "GBP" || m["value"].(float64) != 5 {
		t.Errorf("priceOverride %v, want 5.00 GBP (FT1-12)", m)
	}
	if code := charges[1]["code"].(map[string]any); code["text"] != "Dressing pack" {
		t.Errorf("code %v, want FT1-8 as text", code)
	}
	acct := schedResources(t, res, "Account")
	if len(acct) != 1 || len(first["account"].([]any)) != 1 {
		t.Errorf("Accounts %v, want the PID-18 Account on each charge", acct)
	}
	if !strings.Contains(strings.Join(res.Ignored, " "), "FT1 (segment 5)") {
		t.Errorf("Ignored %v, want the payment FT1[2]", res.Ignored)
	}
}

func TestBadFinancialFieldsAreWarnings(t *testing.T) {
	res := schedConvert(t, mshDFT, pidDFT,
		"FT1|1|T1||2024062|20240701|CG|A^Consult^L|||two||5.00&pounds",
		"FT1|2|T2||20240620|20240701|CG",
		"IN1|1|PLAN^Plan^L",
		"IN1|2|PLAN^Plan^L|INS1^^^RX1|Insurer||||||||notadate||||||||||first")
	want := "FT1[1]-4 FT1[1]-10 FT1[1]-12.1.2 FT1[2]-7 IN1[1]-4 IN1[2]-12 IN1[2]-22"
	if got := strings.Join(schedWarnings(res), " "); got != want {
		t.Errorf("warnings at %s, want %s", got, want)
	}
	if n := len(schedResources(t, res, "ChargeItem")); n != 1 {
		t.Errorf("%d ChargeItems, want 1 (FT1[2] has no code)", n)
	}
	if c := schedResources(t, res, "Coverage"); len(c) != 1 || c[0]["period"] != nil || c[0]["order"] != nil {
		t.Errorf("Coverages %v, want one without the bad period and order", c)
	}
}

func TestAPostedTransactionUpdatesItsChargeItem(t *testing.T) {
	ft1 := "FT1|1|TXN-77||20240620|20240701|CG|A^Consult^L"
	a := schedConvert(t, mshDFT, pidDFT, ft1)
	b := schedConvert(t, strings.Replace(mshDFT, "DFT-9", "DFT-10", 1), pidDFT, ft1)
	if schedResources(t, a, "ChargeItem")[0]["id"] != schedResources(t, b, "ChargeItem")[0]["id"] {
		t.Error("the same FT1-2 in two messages made two ChargeItems")
	}
}

func TestAProcedureInAFinancialGroupIsTheChargesService(t *testing.T) {
	res := schedConvert(t, mshDFT, pidDFT, pv1DFT,
		"FT1|1|T1||20240620|20240701|CG|A^Consult^L",
		"PR1|1||29303009^ECG^SCT||202406201440|||||||||||MOD1~MOD2")
	ch := schedResources(t, res, "ChargeItem")[0]
	proc := schedResources(t, res, "Procedure")[0]
	if len(ch["service"].([]any)) != 1 || proc["status"] != "completed" {
		t.Errorf("service %v, procedure status %v: want the Procedure as service, completed", ch["service"], proc["status"])
	}
	coding := proc["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if coding["code"] != "29303009:MOD1:MOD2" {
		t.Errorf("code %v, want PR1-3 with the PR1-16 modifiers", coding["code"])
	}
}

// A DFT of 100,000 charges must not take minutes; this is a guard against
// a quadratic mapping, not a timing.
func TestADFTOf100kChargesConverts(t *testing.T) {
	if testing.Short() {
		t.Skip("converts a 15 MB message")
	}
	raw := largeDFT(100_000 - 4)
	c, _ := NewConverter(Options{})
	done := make(chan int, 1)
	go func() {
		res, err := c.Convert(raw)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		n := 0
		entries, _ := res.Bundle.Get("entry").([]any)
		for _, e := range entries {
			if e.(*Object).Get("resource").(*Object).Get("resourceType") == "ChargeItem" {
				n++
			}
		}
		done <- n
	}()
	select {
	case n := <-done:
		if n != 100_000-4 {
			t.Errorf("%d ChargeItems, want %d", n, 100_000-4)
		}
	case <-time.After(time.Minute):
		t.Fatal("converting 100k FT1 took more than a minute")
	}
}

// TestFinancialConversionGrowsLinearly converts messages 8 times larger,
// in charges and in the values every charge shares, and compares what
// the conversion allocates.
func TestFinancialConversionGrowsLinearly(t *testing.T) {
	long := func(k int) string { return strings.Repeat("L", 8<<10*k) }
	tests := []struct {
		name string
		make func(k int) []byte
	}{
		{"many FT1", func(k int) []byte { return largeDFT(1000 * k) }},
		{"a long PID-18 and many FT1, IN1 and GT1", func(k int) []byte {
			segs := []string{mshDFT, strings.Replace(pidDFT, "ACC-1", long(k), 1)}
			for i := 0; i < 250*k; i++ {
				segs = append(segs, "FT1|1||||20240701|CG|A^Consult^L", "IN1|1|P^Plan^L|I^^^RX1|Ins", "GT1|1||DOE^John")
			}
			return []byte(strings.Join(segs, "\r") + "\r")
		}},
		{"a long SCH-2 and many resources", func(k int) []byte {
			segs := []string{schedf(mshSIU, "S12"), "SCH||" + long(k) + "^TC", pidSIU}
			for i := 0; i < 250*k; i++ {
				segs = append(segs, "AIS|1|A|S^Svc^L", "AIL|1|A|CARD^^^RX1", "AIP|1|A|C1^DOC", "AIG|1|A|R^Res^L|EQ")
			}
			return []byte(strings.Join(segs, "\r") + "\r")
		}},
		{"many ROL after PV1", func(k int) []byte {
			segs := []string{mshDFT, pidDFT, pv1DFT}
			for i := 0; i < 250*k; i++ {
				segs = append(segs, "ROL||AD|AT^Attending^HL70443|C"+strconv.Itoa(i)+"^DOC^A^^^^^^RX1")
			}
			return []byte(strings.Join(segs, "\r") + "\r")
		}},
	}
	c, _ := NewConverter(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := func(k int) uint64 {
				raw := tt.make(k)
				return allocated(func() { convertJSON(t, c, raw) })
			}
			small, large := size(1), size(8)
			if large > 12*small {
				t.Errorf("8x the message allocated %.1fx the bytes (%d -> %d); want linear growth (about 8x)",
					float64(large)/float64(small), small, large)
			}
		})
	}
}

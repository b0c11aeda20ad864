package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func readBatchFile(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/batch/lab_results_file.hl7")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// batchSegs joins segments with CR, ending with one.
func batchSegs(segs ...string) string { return strings.Join(segs, "\r") + "\r" }

// offsetIn returns where sub starts in body, or -1 when it is not a slice of it.
func offsetIn(body, sub []byte) int {
	if len(sub) == 0 || len(body) == 0 {
		return -1
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	if off > uintptr(len(body)) || int(off)+len(sub) > len(body) {
		return -1
	}
	return int(off)
}

func mustSplit(t testing.TB, body []byte) *Batch {
	t.Helper()
	b, err := SplitBatch(body)
	if err != nil {
		t.Fatalf("SplitBatch(%.60q…): %v", body, err)
	}
	return b
}

func TestSplitBatchReturnsTheMessagesOfAFileAndItsHeaders(t *testing.T) {
	body := readBatchFile(t)
	b := mustSplit(t, body)
	if len(b.Messages) != 2 || b.Warnings != nil {
		t.Fatalf("got %d messages, warnings %q; want 2 and none", len(b.Messages), b.Warnings)
	}
	start := bytes.Index(body, []byte("MSH|"))
	second := bytes.Index(body, []byte("MSH|^~\\&|LAB|RX1|JUNCTION|RX1|20240213150104"))
	end := bytes.Index(body, []byte("BTS|2"))
	for i, want := range []struct {
		from, to int
		id       string
	}{{start, second, "LAB-778812"}, {second, end, "LAB-778813"}} {
		m := b.Messages[i]
		if off := offsetIn(body, m); off != want.from || off+len(m) != want.to {
			t.Errorf("message %d spans [%d, %d) of the body; want [%d, %d), not a copy", i+1, off, off+len(m), want.from, want.to)
		}
		msg, err := Parse(m)
		if err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		if _, _, id, _ := msg.Header(); id != want.id {
			t.Errorf("message %d MSH-10 = %q; want %q", i+1, id, want.id)
		}
	}
	wantFile := BatchHeader{Segment: "FHS", SendingApp: "LAB", SendingFacility: "RX1", ReceivingApp: "JUNCTION",
		ReceivingFacility: "RX1", Time: "20240213150000", Name: "results-20240213.hl7", Comment: "daily results", ControlID: "F-20240213-01"}
	wantHeader := BatchHeader{Segment: "BHS", SendingApp: "LAB", SendingFacility: "RX1", ReceivingApp: "JUNCTION",
		ReceivingFacility: "RX1", Time: "20240213150000", Name: "ORU^R01", Comment: "haematology", ControlID: "B-0042"}
	if b.File != wantFile || b.Header != wantHeader || b.Delims != DefaultDelimiters {
		t.Errorf("File = %+v\nHeader = %+v\nDelims = %q", b.File, b.Header, b.Delims)
	}
}

func TestSplitBatchAcceptsLFAndCRLFSegmentTerminatorsAsWellAsCR(t *testing.T) {
	body := readBatchFile(t)
	want := mustSplit(t, body)
	for name, term := range map[string]struct{ sep, end string }{
		"LF": {"\n", "\n"}, "CRLF": {"\r\n", "\r\n"}, "CR then blank lines": {"\r\r\n  \r", "\r"},
	} {
		b := mustSplit(t, bytes.ReplaceAll(body, []byte("\r"), []byte(term.sep)))
		if len(b.Messages) != len(want.Messages) || b.Warnings != nil || b.Header != want.Header || b.File != want.File {
			t.Fatalf("%s: %d messages, warnings %q, header %+v", name, len(b.Messages), b.Warnings, b.Header)
		}
		for i, m := range b.Messages {
			text, ok := bytes.CutSuffix(m, []byte(term.end))
			if !ok || bytes.ContainsAny(text[len(text)-1:], "\r\n ") {
				t.Errorf("%s: message %d ends %q; want its last terminator and no blank line after it", name, i+1, m[max(0, len(m)-12):])
			}
			msg, err := Parse(m)
			if err != nil {
				t.Fatalf("%s: message %d: %v", name, i+1, err)
			}
			if got := msg.Bytes(); !bytes.Equal(got, want.Messages[i]) {
				t.Errorf("%s: message %d = %q; want %q", name, i+1, got, want.Messages[i])
			}
		}
	}
}

func TestSplitBatchSplitsAStreamOfMessagesWithoutABatchHeader(t *testing.T) {
	body := []byte(batchSegs(
		`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144932||ADT^A01|M1|P|2.4`, `PID|1||111^^^NHS^NH`,
		`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144933||ADT^A08|M2|P|2.4`, `PID|1||222^^^NHS^NH`, ``, `PV1|1|I`,
		`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144934||ADT^A03|M3|P|2.4`, `PID|1||333^^^NHS^NH`))
	b := mustSplit(t, body)
	want := []string{
		batchSegs(`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144932||ADT^A01|M1|P|2.4`, `PID|1||111^^^NHS^NH`),
		batchSegs(`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144933||ADT^A08|M2|P|2.4`, `PID|1||222^^^NHS^NH`, ``, `PV1|1|I`),
		batchSegs(`MSH|^~\&|PAS|RX1|JUNCTION|RX1|20240213144934||ADT^A03|M3|P|2.4`, `PID|1||333^^^NHS^NH`),
	}
	if len(b.Messages) != len(want) || b.Warnings != nil || b.Header.Segment != "" || b.File.Segment != "" {
		t.Fatalf("got %d messages, warnings %q, header %+v", len(b.Messages), b.Warnings, b.Header)
	}
	for i, m := range b.Messages {
		if string(m) != want[i] {
			t.Errorf("message %d = %q; want %q", i+1, m, want[i])
		}
	}
}

func TestSplitBatchReturnsASingleMessageWithoutItsMLLPFraming(t *testing.T) {
	adt, err := os.ReadFile("testdata/adt_a01.hl7")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{adt, append(append([]byte{0x0B}, adt...), 0x1C, 0x0D), append([]byte("\xEF\xBB\xBF"), adt...)} {
		b := mustSplit(t, body)
		if len(b.Messages) != 1 || !bytes.Equal(b.Messages[0], adt) || offsetIn(body, b.Messages[0]) < 0 || b.Warnings != nil {
			t.Errorf("SplitBatch(%.20q…) = %d messages, warnings %q; want the message itself", body, len(b.Messages), b.Warnings)
		}
	}
	// An MLLP end block straight after the last segment's text.
	b := mustSplit(t, []byte("\x0bMSH|^~\\&|A|B|||||ACK|1|P|2.4\rMSA|AA|1\x1c\r"))
	if len(b.Messages) != 1 || string(b.Messages[0]) != "MSH|^~\\&|A|B|||||ACK|1|P|2.4\rMSA|AA|1" {
		t.Errorf("SplitBatch(framed) = %q", b.Messages)
	}
}

func TestSplitBatchReportsCountsThatDoNotMatchAsWarnings(t *testing.T) {
	body := []byte(batchSegs(`FHS|^~\&|LAB|RX1`, `BHS|^~\&|LAB|RX1|||||||B-1`,
		`MSH|^~\&|LAB|RX1|||||ORU^R01|1|P|2.5`, `OBX|1|NM|X||1`,
		`MSH|^~\&|LAB|RX1|||||ORU^R01|2|P|2.5`, `OBX|1|NM|X||2`,
		`BTS|3`, `FTS|two`))
	b := mustSplit(t, body)
	want := []string{"segment 7: BTS-1 is 3 but the batch holds 2 messages", `segment 8: FTS-1 "two" is not a number`}
	if len(b.Messages) != 2 || fmt.Sprint(b.Warnings) != fmt.Sprint(want) {
		t.Errorf("got %d messages, warnings %q; want 2 and %q", len(b.Messages), b.Warnings, want)
	}
	b = mustSplit(t, []byte(batchSegs(`BHS|^~\&`, `MSH|^~\&|LAB|RX1|||||ORU^R01|1|P|2.5`, `BTS|1`, `FTS|2`)))
	if want := "segment 4: FTS-1 is 2 but the file holds 1 batches"; len(b.Warnings) != 2 || b.Warnings[0] != "segment 4 is an FTS without an FHS" || b.Warnings[1] != want {
		t.Errorf("warnings %q; want an FTS without an FHS and %q", b.Warnings, want)
	}
}

func TestSplitBatchReturnsAnEmptyBatchWithoutAnError(t *testing.T) {
	b := mustSplit(t, []byte(batchSegs(`BHS|^~\&|LAB|RX1|||||||B-7`, `BTS|0`)))
	if len(b.Messages) != 0 || b.Warnings != nil || b.Header.ControlID != "B-7" {
		t.Errorf("got %d messages, warnings %q, header %+v", len(b.Messages), b.Warnings, b.Header)
	}
}

func TestSplitBatchReportsMissingTrailersAndStraySegmentsAsWarnings(t *testing.T) {
	body := []byte(batchSegs(`FHS|^~\&`, `BHS|^~\&`, `NTE|1||before any message`,
		`MSH|^~\&|LAB|RX1|||||ORU^R01|1|P|2.5`, `OBX|1|NM|X||1`,
		`BHS|^~\&`, `MSH|^~\&|LAB|RX1|||||ORU^R01|2|P|2.5`, `BTS`, `ZZZ|after the batch`))
	b := mustSplit(t, body)
	want := []string{
		`segment 3 ("NTE|1||before any me") is outside any message: ignored`,
		"segment 6 is a BHS before the BTS of the batch before it",
		`segment 9 ("ZZZ|after the batch") is outside any message: ignored`,
		"the file has no FTS",
		"the file holds 2 batches: Header is the first one's BHS",
	}
	if len(b.Messages) != 2 || strings.Join(b.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %d messages, warnings\n%s\nwant 2 and\n%s", len(b.Messages), strings.Join(b.Warnings, "\n"), strings.Join(want, "\n"))
	}
	b = mustSplit(t, []byte(batchSegs(`BHS|^~\&`, `MSH|^~\&|LAB|RX1|||||ORU^R01|1|P|2.5`)))
	if fmt.Sprint(b.Warnings) != "[the batch has no BTS]" {
		t.Errorf("warnings %q; want the batch has no BTS", b.Warnings)
	}
}

func TestSplitBatchCapsItsWarnings(t *testing.T) {
	body := []byte(`BHS|^~\&` + strings.Repeat("\rZZZ|stray", 1000) + "\rBTS|0\r")
	b := mustSplit(t, body)
	if len(b.Warnings) != maxBatchWarnings+1 || b.Warnings[maxBatchWarnings] != "and 980 more warnings" {
		t.Errorf("got %d warnings, the last %q", len(b.Warnings), b.Warnings[len(b.Warnings)-1])
	}
}

func TestSplitBatchRefusesABodyThatIsNotHL7(t *testing.T) {
	for body, want := range map[string]string{
		"":                          `empty body: expected a message starting with "MSH" or a batch starting with "FHS" or "BHS"`,
		"\r\n \r\x0b\x1c\r":         `empty body: expected a message starting with "MSH" or a batch starting with "FHS" or "BHS"`,
		`{"resourceType":"Bundle"}`: `segment 1: expected a message starting with "MSH" or a batch starting with "FHS" or "BHS", got "{\"resourceType\":\"Bun"`,
		"PID|1||X\rMSH|^~\\&|A":     `segment 1: expected a message starting with "MSH" or a batch starting with "FHS" or "BHS", got "PID|1||X"`,
		"BTS|0\r":                   `segment 1: expected a message starting with "MSH" or a batch starting with "FHS" or "BHS", got "BTS|0"`,
		"MSHA|x":                    `segment 1: expected a message starting with "MSH" or a batch starting with "FHS" or "BHS", got "MSHA|x"`,
	} {
		b, err := SplitBatch([]byte(body))
		var pe *ParseError
		if !errors.As(err, &pe) || err.Error() != want || b != nil {
			t.Errorf("SplitBatch(%q) = %v, %v; want %s", body, b, err, want)
		}
	}
}

func TestSplitBatchReturnsEveryMessageOfALongStreamInOrder(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("BHS|^~\\&|LAB|RX1|||||||B-9\r")
	const n = 20000
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "MSH|^~\\&|LAB|RX1|||||ORU^R01|%d|P|2.5\rOBX|1|NM|X||%d\r", i, i)
	}
	fmt.Fprintf(&sb, "BTS|%d\r", n)
	body := []byte(sb.String())
	b := mustSplit(t, body)
	if len(b.Messages) != n || b.Warnings != nil {
		t.Fatalf("got %d messages, warnings %q", len(b.Messages), b.Warnings)
	}
	next := len("BHS|^~\\&|LAB|RX1|||||||B-9\r")
	for i, m := range b.Messages {
		if offsetIn(body, m) != next || !bytes.HasSuffix(m, []byte(fmt.Sprintf("|%d\r", i+1))) {
			t.Fatalf("message %d = %q at %d; want message %d at %d", i+1, m, offsetIn(body, m), i+1, next)
		}
		next += len(m)
	}
}

func TestBatchACKAnswersTheInboundFileWithABatchOfACKs(t *testing.T) {
	in := mustSplit(t, readBatchFile(t))
	now := time.Date(2024, 2, 13, 15, 1, 30, 0, time.UTC)
	var acks [][]byte
	for i, m := range in.Messages {
		msg, err := Parse(m)
		if err != nil {
			t.Fatal(err)
		}
		_, _, id, ver := msg.Header()
		acks = append(acks, ACK{SendingApp: "JUNCTION", SendingFacility: "RX1", ReceivingApp: "LAB", ReceivingFacility: "RX1",
			Time: now, ControlID: fmt.Sprintf("A-%d", i+1), ProcessingID: "P", Version: ver, Code: "AA", RefControlID: id}.Bytes())
	}
	a := NewBatchACK(in, acks)
	a.Time, a.ControlID, a.FileControlID = now, "AB-1", "AF-1"
	want := batchSegs(
		`FHS|^~\&|JUNCTION|RX1|LAB|RX1|20240213150130||||AF-1|F-20240213-01`,
		`BHS|^~\&|JUNCTION|RX1|LAB|RX1|20240213150130||||AB-1|B-0042`,
		`MSH|^~\&|JUNCTION|RX1|LAB|RX1|20240213150130||ACK|A-1|P|2.5`, `MSA|AA|LAB-778812|`,
		`MSH|^~\&|JUNCTION|RX1|LAB|RX1|20240213150130||ACK|A-2|P|2.5`, `MSA|AA|LAB-778813|`,
		`BTS|2`, `FTS|1`)
	got := a.Bytes()
	if string(got) != want {
		t.Fatalf("Bytes():\n got %q\nwant %q", got, want)
	}

	// The answer splits back into its ACKs, referring to the inbound batch.
	back := mustSplit(t, got)
	if len(back.Messages) != 2 || back.Warnings != nil || back.Header.RefControlID != "B-0042" || back.File.RefControlID != "F-20240213-01" {
		t.Fatalf("SplitBatch(answer) = %d messages, warnings %q, header %+v", len(back.Messages), back.Warnings, back.Header)
	}
	for i, m := range back.Messages {
		if code, ref, _, err := ParseACK(m); err != nil || code != "AA" || ref != fmt.Sprintf("LAB-77881%d", i+2) {
			t.Errorf("ACK %d: %q, %q, %v", i+1, code, ref, err)
		}
	}
}

func TestBatchACKUsesTheInboundDelimitersAndCountsOnlyNonEmptyACKs(t *testing.T) {
	in := mustSplit(t, []byte(batchSegs(`BHS#$*@!#LAB#RX1#JUNCTION#RX1#####B$9`, `MSH#$*@!#LAB#RX1#JUNCTION#RX1###ORU$R01#1#P#2.5`, `BTS#1`)))
	if want := (Delimiters{'#', '$', '*', '@', '!', 0}); in.Delims != want || in.Header.ControlID != "B$9" {
		t.Fatalf("Delims = %q, header %+v", in.Delims, in.Header)
	}
	a := NewBatchACK(in, [][]byte{[]byte("MSH#$*@!#JUNCTION#RX1#LAB#RX1###ACK#A1#P#2.5\r\nMSA#AA#1\r\n"), nil})
	want := batchSegs(`BHS#$*@!#JUNCTION#RX1#LAB#RX1######B$9`, "MSH#$*@!#JUNCTION#RX1#LAB#RX1###ACK#A1#P#2.5\r\nMSA#AA#1", `BTS#1`)
	if got := string(a.Bytes()); got != want {
		t.Errorf("Bytes():\n got %q\nwant %q", got, want)
	}
	// A batch answering a plain stream (no BHS) has an empty header, and a
	// zero BatchACK writes |^~\&.
	if got, want := string(BatchACK{}.Bytes()), batchSegs(`BHS|^~\&`, `BTS|0`); got != want {
		t.Errorf("BatchACK{}.Bytes() = %q; want %q", got, want)
	}
}

func FuzzSplitBatchReturnsSlicesOfItsInputInOrder(f *testing.F) {
	f.Add([]byte(batchSegs(`FHS|^~\&`, `BHS|^~\&`, `MSH|^~\&|A`, `PID|1`, `BTS|1`, `FTS|1`)))
	f.Add([]byte("MSH|^~\\&|A\r\nPID|1\nMSH|^~\\&|B\r\x1c\r\x0bMSH|^~\\&|C\x1c"))
	f.Add([]byte("BHS#$*@!\rMSH#$*@!#A\rBTS#x\r"))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := SplitBatch(body)
		if err != nil {
			return
		}
		last := 0
		for i, m := range b.Messages {
			off := offsetIn(body, m)
			if off < last || !bytes.HasPrefix(m, []byte("MSH")) {
				t.Fatalf("message %d = %q at %d; want a slice of the input starting with MSH after %d", i+1, m, off, last)
			}
			last = off + len(m)
		}
		if len(b.Warnings) > maxBatchWarnings+1 {
			t.Fatalf("%d warnings", len(b.Warnings))
		}
	})
}

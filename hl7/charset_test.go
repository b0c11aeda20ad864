package hl7

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// charsetMsg is an ADT with MSH-18 set to label and body as NTE-3.
func charsetMsg(label, body string) []byte {
	return []byte("MSH|^~\\&|PAS|RX1|JUNCTION|RX1|20240213144932||ADT^A01|C1|P|2.4|||AL|NE|GBR|" + label + "|EN\r" +
		"PID|1||0000000000^^^NHS^NH||FERNANDEZ^Jose\r" +
		"NTE|1||" + body + "\r")
}

func readCharsetFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/charset/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameArray reports whether a and b start at the same byte in memory.
func sameArray(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

func TestDecodeCharsetReadsALatin1MessageAndItsUTF8TwinAsTheSameBytes(t *testing.T) {
	latin1 := readCharsetFile(t, "adt_a01_8859-1.hl7")
	twin := readCharsetFile(t, "adt_a01_utf8.hl7") // the same text in UTF-8, still labelled 8859/1
	if bytes.Equal(latin1, twin) || utf8.Valid(latin1) {
		t.Fatal("the testdata should be Latin-1 and UTF-8 twins that differ")
	}

	got, cs, warnings := DecodeCharset(latin1)
	if !bytes.Equal(got, twin) || cs != CharsetLatin1 || warnings != nil {
		t.Errorf("DecodeCharset(Latin-1) = %q, %v, %q; want the UTF-8 twin, ISO-8859-1, no warnings", got, cs, warnings)
	}
	m, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Get("PID-5"); v != "FERNÁNDEZ^María^José^^Ms" {
		t.Errorf("PID-5 = %q", v)
	}

	// The twin is a mislabelled sender: valid UTF-8 is read as UTF-8.
	got, cs, warnings = DecodeCharset(twin)
	if !sameArray(got, twin) || len(got) != len(twin) || cs != CharsetUTF8 || len(warnings) != 1 ||
		!strings.Contains(warnings[0], `MSH-18 is "8859/1" but the message is valid UTF-8`) {
		t.Errorf("DecodeCharset(UTF-8 twin) = %v, %q; want the input itself, UTF-8 and a warning", cs, warnings)
	}
}

func TestDecodeCharsetReadsBytes80To9FOfAn8859Dash1MessageAsWindows1252(t *testing.T) {
	// What a Windows sender writes: € 12, “quoted”, ‘single’, – and … .
	raw := charsetMsg("8859/1", "Fee \x80 12, \x93quoted\x94 \x91single\x92 \x96 Ren\xe9e\x85")
	want := charsetMsg("8859/1", "Fee € 12, “quoted” ‘single’ – Renée…")
	got, cs, warnings := DecodeCharset(raw)
	if !bytes.Equal(got, want) || cs != CharsetWindows1252 || warnings != nil {
		t.Errorf("DecodeCharset = %q, %v, %q\nwant %q, windows-1252, no warnings", got, cs, warnings, want)
	}
	if cs.MSH18() != "8859/1" {
		t.Errorf("MSH18() = %q; an answer should carry the sender's label", cs.MSH18())
	}

	// The same bytes with no MSH-18 are not UTF-8, so they are read the same
	// way, with a warning.
	got, cs, warnings = DecodeCharset(charsetMsg("", "Fee \x80 12, \x93quoted\x94 \x91single\x92 \x96 Ren\xe9e\x85"))
	if !bytes.Equal(got, charsetMsg("", "Fee € 12, “quoted” ‘single’ – Renée…")) || cs != CharsetWindows1252 ||
		len(warnings) != 1 || !strings.HasPrefix(warnings[0], "MSH-18 is empty and the message is not valid UTF-8 (byte 134 is 0x80)") {
		t.Errorf("DecodeCharset with MSH-18 empty = %q, %v, %q", got, cs, warnings)
	}
}

func TestDecodeCharsetReadsTheEuroSignOfAn8859Dash15Message(t *testing.T) {
	got, cs, warnings := DecodeCharset(charsetMsg("8859/15", "\xa4 5, \xa6koda, \xbcuvre, \xe9"))
	if want := charsetMsg("8859/15", "€ 5, Škoda, Œuvre, é"); !bytes.Equal(got, want) || cs != CharsetLatin9 || warnings != nil {
		t.Errorf("DecodeCharset = %q, %v, %q; want %q", got, cs, warnings, want)
	}
}

func TestDecodeCharsetReadsAUTF8MessageThatIsNotValidUTF8AsWindows1252WithAWarning(t *testing.T) {
	got, cs, warnings := DecodeCharset(charsetMsg("UNICODE UTF-8", "Ren\xe9e"))
	if want := charsetMsg("UNICODE UTF-8", "Renée"); !bytes.Equal(got, want) || cs != CharsetWindows1252 ||
		len(warnings) != 1 || !strings.Contains(warnings[0], `MSH-18 is "UNICODE UTF-8" but the message is not valid UTF-8`) {
		t.Errorf("DecodeCharset = %q, %v, %q", got, cs, warnings)
	}
}

func TestDecodeCharsetDropsAByteOrderMarkWithoutCopying(t *testing.T) {
	msg := charsetMsg("UNICODE UTF-8", "Renée")
	raw := append([]byte("\xEF\xBB\xBF"), msg...)
	got, cs, warnings := DecodeCharset(raw)
	if !bytes.Equal(got, msg) || !sameArray(got, raw[3:]) || cs != CharsetUTF8 || warnings != nil {
		t.Errorf("DecodeCharset = %q, %v, %q; want the message after the mark, not copied", got, cs, warnings)
	}

	// A mark on a message labelled Latin-1 marks it as UTF-8 in fact.
	got, cs, _ = DecodeCharset(append([]byte("\xEF\xBB\xBF"), charsetMsg("8859/1", "Renée")...))
	if !bytes.Equal(got, charsetMsg("8859/1", "Renée")) || cs != CharsetUTF8 {
		t.Errorf("DecodeCharset(BOM, 8859/1) = %q, %v", got, cs)
	}
}

func TestDecodeCharsetReadsASCIIWithBytesAbove7FLenientlyWithAWarning(t *testing.T) {
	tests := []struct {
		body, want string
		cs         Charset
		warning    string
	}{
		// Byte 138 is the é of NTE-3.
		{"Renée", "Renée", CharsetUTF8, "MSH-18 is ASCII but byte 138 is 0xC3, above 0x7F: read as UTF-8"},
		{"Ren\xe9e", "Renée", CharsetWindows1252,
			"MSH-18 is ASCII but byte 138 is 0xE9, above 0x7F, and the message is not valid UTF-8: read as Windows-1252"},
		// The whole message is read in one character set: a mix is mojibake.
		{"Renée Ren\xe9e", "RenÃ©e Renée", CharsetWindows1252, "MSH-18 is ASCII but byte 138 is 0xC3, above 0x7F, " +
			"and the message is not valid UTF-8 (byte 145 is 0xE9): read as Windows-1252"},
	}
	for _, tt := range tests {
		got, cs, warnings := DecodeCharset(charsetMsg("ASCII", tt.body))
		if !bytes.Equal(got, charsetMsg("ASCII", tt.want)) || cs != tt.cs || len(warnings) != 1 || warnings[0] != tt.warning {
			t.Errorf("DecodeCharset(%q) = %q, %v, %q\nwant %q, %v, %q", tt.body, got, cs, warnings, tt.want, tt.cs, tt.warning)
		}
	}
	got, cs, warnings := DecodeCharset(charsetMsg("ASCII", "Renee"))
	if cs != CharsetASCII || warnings != nil || !bytes.Equal(got, charsetMsg("ASCII", "Renee")) {
		t.Errorf("DecodeCharset(pure ASCII) = %v, %q", cs, warnings)
	}
}

func TestDecodeCharsetReadsAnUnknownCharsetAsUTF8OrWindows1252WithAWarningNamingMSH18(t *testing.T) {
	tests := []struct {
		body, want string
		cs         Charset
		warning    string
	}{
		{"Renee", "Renee", CharsetUTF8, `MSH-18 "8859/2" is not a character set Junction reads: read as UTF-8`},
		{"Renée", "Renée", CharsetUTF8, `MSH-18 "8859/2" is not a character set Junction reads: read as UTF-8`},
		{"Ren\xe9e", "Renée", CharsetWindows1252, `MSH-18 "8859/2" is not a character set Junction reads and ` +
			`the message is not valid UTF-8 (byte 139 is 0xE9): read as Windows-1252`},
	}
	for _, tt := range tests {
		got, cs, warnings := DecodeCharset(charsetMsg("8859/2", tt.body))
		if !bytes.Equal(got, charsetMsg("8859/2", tt.want)) || cs != tt.cs || len(warnings) != 1 || warnings[0] != tt.warning {
			t.Errorf("DecodeCharset(%q) = %q, %v, %q\nwant %q, %v, %q", tt.body, got, cs, warnings, tt.want, tt.cs, tt.warning)
		}
	}
}

func TestDecodeCharsetReturnsValidUTF8AsItIsWithoutAllocating(t *testing.T) {
	adt, err := os.ReadFile("testdata/adt_a01.hl7") // MSH-18 UNICODE UTF-8, with Á, í, é
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{adt, charsetMsg("", "Renée"), charsetMsg("UNICODE", "Renée"), charsetMsg("8859/1", "Renee")} {
		got, _, warnings := DecodeCharset(raw)
		if !sameArray(got, raw) || len(got) != len(raw) || warnings != nil {
			t.Errorf("DecodeCharset(%.60q…) returned a copy or warnings %q", raw, warnings)
		}
		if n := testing.AllocsPerRun(20, func() { DecodeCharset(raw) }); n != 0 {
			t.Errorf("DecodeCharset(%.60q…) allocated %v times", raw, n)
		}
	}
}

func TestDecodeCharsetReadsTheFirstRepetitionOfMSH18InTheFirstMSHWhateverTheDelimiters(t *testing.T) {
	tests := []struct {
		raw  string
		want Charset
	}{
		{"MSH|^~\\&|A|B|C|D|20240213||ADT^A01|1|P|2.5|||AL|NE|GBR|8859/1~UNICODE UTF-8|EN\rNTE|1||\xe9\r", CharsetLatin1},
		{"MSH#$*@!#A#B#C#D#20240213##ADT$A01#1#P#2.5###AL#NE#GBR#8859/1*UNICODE UTF-8\rNTE#1##\xe9\r", CharsetLatin1},
		{"FHS|^~\\&|A\rBHS|^~\\&|A\nMSH|^~\\&|A|B|C|D|20240213||ADT^A01|1|P|2.5|||AL|NE|GBR| 8859/1 \rNTE|1||\xe9\r", CharsetLatin1},
		{"\x0bMSH|^~\\&|A|B|C|D|20240213||ADT^A01|1|P|2.5|||AL|NE|GBR|8859/15\rNTE|1||\xe9\r\x1c\r", CharsetLatin9},
		{"MSH|^~\\&|A|B|C|D|20240213||ADT^A01|1|P|2.5\rZZZ|1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|8859/1\rNTE|1||\xc3\xa9\r", CharsetUTF8},
	}
	for _, tt := range tests {
		got, cs, _ := DecodeCharset([]byte(tt.raw))
		if cs != tt.want || !utf8.Valid(got) || !bytes.Contains(got, []byte("é")) {
			t.Errorf("DecodeCharset(%q) = %q, %v; want é read as %v", tt.raw, got, cs, tt.want)
		}
	}
}

func TestLookupCharsetKnowsHL7AndMIMENames(t *testing.T) {
	for name, want := range map[string]Charset{
		"UNICODE UTF-8": CharsetUTF8, "UNICODE": CharsetUTF8, "utf-8": CharsetUTF8,
		"ASCII": CharsetASCII, "US-ASCII": CharsetASCII,
		"8859/1": CharsetLatin1, "ISO-8859-1": CharsetLatin1, "latin1": CharsetLatin1,
		"8859/15": CharsetLatin9, "iso-8859-15": CharsetLatin9,
		"windows-1252": CharsetWindows1252, "CP1252": CharsetWindows1252,
	} {
		if got, ok := LookupCharset(name); !ok || got != want {
			t.Errorf("LookupCharset(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "8859/2", "UNICODE UTF-16", "ISO IR87", "GB 18030-2000", strings.Repeat("8", 40)} {
		if got, ok := LookupCharset(name); ok {
			t.Errorf("LookupCharset(%q) = %v; want not found", name, got)
		}
	}
}

func TestCharsetEncodeWritesAQuestionMarkForWhatTheCharsetCannotRepresent(t *testing.T) {
	const s = "José € “ok” Œ ¤ 日\xff"
	for cs, want := range map[Charset]string{
		CharsetUTF8:        "José € “ok” Œ ¤ 日?",
		CharsetASCII:       "Jos? ? ?ok? ? ? ??",
		CharsetLatin1:      "Jos\xe9 ? ?ok? ? \xa4 ??",
		CharsetLatin9:      "Jos\xe9 \xa4 ?ok? \xbc ? ??",
		CharsetWindows1252: "Jos\xe9 \x80 \x93ok\x94 \x8c \xa4 ??",
	} {
		if got := string(cs.Encode([]byte(s))); got != want {
			t.Errorf("%v.Encode(%q) = %q; want %q", cs, s, got, want)
		}
		if got := string(cs.AppendString([]byte("x"), s)); got != "x"+want {
			t.Errorf("%v.AppendString(x, %q) = %q; want %q", cs, s, got, "x"+want)
		}
	}
}

func TestCharsetEncodeReturnsItsInputWhenItNeedsNoChange(t *testing.T) {
	ack := ACK{Code: "AA", RefControlID: "C1", Text: "message 1 accepted"}.Bytes()
	for _, cs := range []Charset{CharsetUTF8, CharsetASCII, CharsetLatin1, CharsetLatin9, CharsetWindows1252} {
		if got := cs.Encode(ack); !sameArray(got, ack) || len(got) != len(ack) {
			t.Errorf("%v.Encode(ASCII ACK) returned a copy", cs)
		}
	}
	utf := []byte("MSA|AE|C1|Renée")
	if got := CharsetUTF8.Encode(utf); !sameArray(got, utf) {
		t.Error("UTF-8 Encode(valid UTF-8) returned a copy")
	}
}

func TestCharsetEncodedAnswersDecodeBackToTheSameText(t *testing.T) {
	tests := []struct {
		cs   Charset
		text string
	}{
		{CharsetASCII, "Renee O'Brien"},
		{CharsetLatin1, "Renée Müller, Straße, Ñandú, ¿qué? ½ °C"},
		{CharsetWindows1252, "Renée: € 12, “quoted” ‘single’ – — … ™ Šš Žž Œœ Ÿ"},
		{CharsetLatin9, "Renée: € 12, Škoda, Œuvre, Ÿ"},
		{CharsetUTF8, "Renée 日本 🙂"},
	}
	for _, tt := range tests {
		msg := charsetMsg(tt.cs.MSH18(), tt.text)
		got, cs, warnings := DecodeCharset(tt.cs.Encode(msg))
		if !bytes.Equal(got, msg) || cs != tt.cs || warnings != nil {
			t.Errorf("DecodeCharset(%v.Encode(%q)) = %q, %v, %q", tt.cs, tt.text, got, cs, warnings)
		}
	}
}

func TestCharsetEveryHighByteDecodesAndEncodesBackToItself(t *testing.T) {
	for _, tt := range []struct {
		cs   Charset
		from int
	}{{CharsetWindows1252, 0x80}, {CharsetLatin9, 0xA0}, {CharsetLatin1, 0xA0}} {
		for b := tt.from; b <= 0xFF; b++ {
			raw := charsetMsg(tt.cs.MSH18(), string([]byte{'x', byte(b)}))
			got, _, _ := DecodeCharset(raw)
			if back := tt.cs.Encode(got); !bytes.Equal(back, raw) {
				t.Errorf("%v: byte 0x%02X decodes to %q, which encodes to %q", tt.cs, b, got, back)
			}
		}
	}
}

func FuzzDecodeCharsetAlwaysReturnsValidUTF8(f *testing.F) {
	f.Add(charsetMsg("8859/1", "Ren\xe9e \x80"))
	f.Add(charsetMsg("", "Ren\xc3"))
	f.Add(charsetMsg("ASCII", "\xff\xfe"))
	f.Add([]byte("\xEF\xBB\xBFMSH|^~\\&|||||||||||||||8859/15\r\xa4"))
	f.Add([]byte("MSH|"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, cs, _ := DecodeCharset(raw)
		if !utf8.Valid(got) {
			t.Fatalf("DecodeCharset(%q) = %q, not valid UTF-8", raw, got)
		}
		if utf8.Valid(raw) && !bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) && (cs == CharsetUTF8 || cs == CharsetASCII) && !bytes.Equal(got, raw) {
			t.Fatalf("DecodeCharset(%q) changed valid UTF-8 to %q", raw, got)
		}
		if cs.String() == "" || cs.MSH18() == "" {
			t.Fatalf("charset %d has no name", cs)
		}
	})
}

package hl7tofhir

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// MDM^T01-T11: TXA -> DocumentReference (txa.go); the OBX after the TXA are
// its content (IG segment-obx-to-documentreference):
//
//   - TX and ST lines, from all the OBX (one OBX per line is usual) and their
//     repetitions, joined by newlines: one text/plain attachment; FT lines
//     the same, kept in v2 formatted-text form: one text/hl7v2 attachment (the
//     IG's "application/text" for TX is not a MIME type);
//   - ED: an attachment per repetition, contentType from ED-2/ED-3 (AP
//     application, IM image, AU audio, TEXT text; PDF -> application/pdf),
//     data Base64 as sent, or encoded from ASCII (A) or Hex;
//   - RP: an attachment per repetition with url RP-1, contentType RP-3/RP-4.
//
// A notification without content (T01, T03, T05, T07, T09, T11) gets an
// attachment naming the document (content is required), its contentType
// from TXA-3 when that says.
//
// The TXA reads the OBX run after it (the OBX and NTE up to the next other
// segment) so the text is encoded once; run() then passes those OBX by.

// documentContent sets the content of the TXA's DocumentReference.
func (c *conv) documentContent(txa seg, m *orderMsg) {
	var plain, ft strings.Builder
	plainLines, ftLines := 0, 0
	var files []any
	i := txa.index + 1
	for ; i < len(c.segs); i++ {
		s := c.segs[i]
		if s.name == "NTE" {
			continue
		}
		if s.name != "OBX" {
			break
		}
		vt := strings.ToUpper(s.get(2, 1, 1))
		switch vt {
		case "TX", "ST":
			addLine(&plain, &plainLines, c.text(s, 5, s.reps(5)))
		case "FT":
			addLine(&ft, &ftLines, c.rawText(s, 5))
		case "ED", "RP":
			for r := 1; r <= s.reps(5); r++ {
				if a := c.fileAttachment(s, vt, r); a != nil {
					files = append(files, obj("attachment", a))
				}
			}
		case "":
			if s.reps(5) > 0 {
				c.warn(fieldErr(s.at(2, 1, 0), "", "is empty but OBX-5 has a value", "the value type of the document content: TX, ST, FT, ED or RP"))
			}
		default:
			c.warn(fieldErr(s.at(2, 1, 0), vt, "is not a document content type", "TX, ST, FT, ED or RP"))
		}
	}
	m.docEnd = i
	d := m.doc.res
	if plainLines > 0 {
		d.Append("content", obj("attachment", textAttachment("text/plain", plain.String(), "")))
	}
	if ftLines > 0 {
		d.Append("content", obj("attachment", textAttachment("text/hl7v2", ft.String(), "")))
	}
	for _, f := range files {
		d.Append("content", f)
	}
	if d.Get("content") == nil {
		title := firstNonEmpty(txa.get(25, 1, 1), txa.get(16, 1, 1), txa.get(2, 1, 2), txa.get(2, 1, 1), "Document notification")
		d.Set("content", []any{obj("attachment", obj("contentType", presentationType(txa.get(3, 1, 1)), "title", title))})
	}
}

func addLine(b *strings.Builder, n *int, line string) {
	if *n > 0 {
		b.WriteByte('\n')
	}
	*n++
	b.WriteString(line)
}

// rawText joins the repetitions of a field as sent (escapes kept), by newlines.
func (c *conv) rawText(s seg, field int) string {
	n := s.reps(field)
	parts := make([]string, 0, n)
	for r := 1; r <= n; r++ {
		parts = append(parts, s.raw(field, r))
	}
	return strings.Join(parts, "\n")
}

// textAttachment is an Attachment of text, Base64-encoded.
func textAttachment(contentType, text, title string) *Object {
	return obj("contentType", contentType, "data", base64.StdEncoding.EncodeToString([]byte(text)), "title", title)
}

// fileAttachment maps repetition rep of an ED or RP OBX-5 to an Attachment; a
// value that cannot be decoded is a warning and gives none.
func (c *conv) fileAttachment(s seg, vt string, rep int) *Object {
	f := s.field(5, rep)
	if vt == "RP" {
		if url := f.c(1); url != "" {
			return obj("contentType", mimeType(f.c(3), f.c(4)), "url", url)
		}
		return nil
	}
	data := f.c(5)
	if data == "" {
		return nil
	}
	var b64 string
	switch enc := strings.ToUpper(f.c(4)); enc {
	case "BASE64":
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			c.warn(fieldErr(f.at(5), clip(data), "is not valid Base64", "Base64 data, as ED-4 says"))
			return nil
		}
		b64 = data
	case "A", "":
		b64 = base64.StdEncoding.EncodeToString([]byte(data))
	case "HEX":
		raw, err := hex.DecodeString(data)
		if err != nil {
			c.warn(fieldErr(f.at(5), clip(data), "is not valid hexadecimal", "hex digits, as ED-4 says"))
			return nil
		}
		b64 = base64.StdEncoding.EncodeToString(raw)
	default:
		c.warn(fieldErr(f.at(4), enc, "is not an ED encoding", "A, Hex or Base64 (HL7 table 0299)"))
		return nil
	}
	return obj("contentType", mimeType(f.c(2), f.c(3)), "data", b64)
}

// clip shortens a value quoted in a warning.
func clip(v string) string {
	if len(v) > 40 {
		return v[:40] + "..."
	}
	return v
}

// mimeType makes a MIME type from a v2 type of data (table 0191) and subtype
// (table 0291).
func mimeType(typ, sub string) string {
	t, st := strings.ToLower(strings.TrimSpace(typ)), strings.ToLower(strings.TrimSpace(sub))
	if strings.Contains(t, "/") {
		return t
	}
	major, ok := mediaTypes[t]
	if !ok {
		major = "application"
	}
	switch {
	case st == "" && major == "text":
		st = "plain"
	case st == "":
		major, st = "application", "octet-stream"
	}
	return major + "/" + st
}

var mediaTypes = map[string]string{
	"ap": "application", "application": "application", "im": "image", "image": "image",
	"au": "audio", "audio": "audio", "text": "text", "tx": "text", "multipart": "multipart",
	"video": "video", "si": "image", "ns": "image",
}

// presentationType is the contentType TXA-3 (table 0191) names, if any.
func presentationType(v string) string {
	switch strings.ToUpper(v) {
	case "":
		return ""
	case "TX", "TEXT":
		return "text/plain"
	case "FT":
		return "text/hl7v2"
	}
	return ""
}

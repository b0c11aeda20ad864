// Package hl7tofhir converts HL7v2 messages to FHIR R4 transaction Bundles,
// following the HL7 International "HL7 Version 2 to FHIR" implementation
// guide (hl7.org/fhir/uv/v2mappings): its segment, data type and vocabulary
// ConceptMaps.
//
//	conv, err := hl7tofhir.NewConverter(hl7tofhir.Options{
//		Systems:  map[string]string{"RX1^MR": "https://rx1.example.nhs.uk/Id/mrn"},
//		TimeZone: london,
//	})
//	res, err := conv.Convert(raw) // safe for concurrent use
//	body := res.JSON()            // POST to the FHIR server's base URL
//
// # Messages
//
// The kinds in messageKinds (messages.go): ADT^A01-A13, A17 (swap), A28,
// A31, A34, A39, A40 (merges, adt_events.go), A60 (IAM, adt_iam.go),
// ORU^R01, VXU^V04 and the others listed there, v2.3 to v2.8 (other
// versions are read as the nearest, with a warning). A message of another
// type that has a PID converts its Patient, Encounter and the segments this
// mapping knows, with a warning that its event is not mapped; without a
// PID it is refused, naming MSH-9. Each segment's mapping is in its own
// file (pid.go, pv1.go, obx.go, ...) with the IG choices and the departures
// from it in its doc comment.
//
// # The Bundle
//
// A transaction whose every entry is PUT Type/id, with deterministic ids
// (see bundle.go): the Patient's from Options.PatientID (default: the NHS
// number, else a UUID derived from the first PID-3 identifier), others
// from v2 business keys (visit number, order numbers, practitioner and
// organisation identifiers, locations) where there are some, so a later
// message updates the same resources, and from the sender and MSH-10
// otherwise. Converting the same message twice gives the same Bundle.
// References are entry fullUrls (urn:uuid:, or Options.BaseURL/Type/id),
// so every reference resolves inside the Bundle. A Provenance per message
// carries MSH/EVN: sender, event, time, operator (a transaction has no
// MessageHeader).
//
// # v2 nulls, empty fields, Z-segments
//
// An empty field is omitted. The v2 null "" ("delete the value") is omitted
// too: resources are PUT whole, so an omitted element is removed on the
// server, which is what "" asks; Result.Nulls lists where "" was sent for
// callers that need the difference. Z-segments and segments outside the
// mapping (IN1, GT1, NTE with no Observation, ...) are skipped and listed in
// Result.Ignored; no extension is invented for them.
//
// # Warnings and errors
//
// Real feeds are messy, and a converter that refuses a message for one odd
// field loses the patient. A value that does not fit its data type is a
// warning (Result.Warnings), a *FieldError naming the element in hl7 path
// syntax, the value and what was expected:
//
//	PID-7: "19801301" is not a valid date (expected YYYY[MM[DD]])
//
// and its element is omitted (or, for an observation value, kept as
// valueString) while the rest of the segment and the message convert.
// Dates, numbers, codes bound to required FHIR value sets and value types
// are checked; a bad value is never silently dropped. A segment without the
// element its resource cannot do without (OBX-3, OBR-4, AL1-3, RXA-5) is
// left out with a warning, and nothing it made stays in the Bundle (so is
// an RDE ORC with no RXO or RXE: R4 requires the medication). Text the hl7
// parser refuses is mended where it can be (lines that are not segments, a
// malformed MSH-2, a segment name in lower case), with a warning;
// indentation and control bytes before a segment (NUL padding, stray MLLP
// blocks) are dropped. Spaces around a value are not part of it ("N " is
// N), and a code's inner runs of whitespace are single spaces, as FHIR's
// code type requires. An SIU Appointment that no segment gives a time is
// proposed, with a warning (R4 allows no booked appointment without start
// and end).
//
// Convert refuses a message (an error, a *FieldError where it names a
// field) only when its event or its patient cannot be identified: MSH-9 or
// MSH-10 empty, no PID, no identifier in PID-2, PID-3 or PID-4; and when
// it would exceed a bound on the work it causes (see Size). Warnings are
// bounded too: at most 1000 are kept, then one says how many more there
// were, and each keeps at most 256 bytes of its value.
//
// # Size
//
// Conversion is linear in the size of the message: each segment is read
// once through its own hl7.Segment (fields located once, a field's
// repetitions once), what an ORC gives the OBR and RXA segments of its group
// is read once per ORC, and keys built once per segment from a value they
// share (the sender, MSH-10, an order number) carry a digest of that value
// when it is longer than 256 bytes. What an ORC adds to the Bundle by being
// copied into each resource of its group is bounded by twice the message's
// size plus 1 MiB; a message that would exceed it is a *FieldError at the
// ORC. The Bundle's JSON is sized before it is written, in one allocation.
//
// # Why two HL7 libraries
//
// Fields are read with Junction's own lazy ER7 tree (junction/hl7): it is
// allocation-light, decodes escapes, and keeps "" distinct from empty.
// github.com/kardianos/hl7 supplies what depends on the HL7 version: its
// per-version definitions say which fields are DT (date only) and which
// are TS/DTM, which data types exist (OBX-2 "CWE" in a v2.3 message is an
// error), which tables bind a field and what their codes are. Its decoder
// is not used: it turns TS/DT/DTM into time.Time, losing the precision
// FHIR keeps (1985 is not 1985-01-01) and putting zone-less times in UTC,
// and it rejects a whole message over one field its struct does not
// expect. Dates are parsed here (datetime.go), keeping precision, fraction
// and zone; times without a zone are read in Options.TimeZone (the
// sender's zone, per v2), and FHIR's need for seconds and a zone on any
// time of day is met by zero-filling HH or HHMM values.
package hl7tofhir

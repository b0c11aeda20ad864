package ui

import (
	"errors"
	"net/http"
	"strings"

	"junction/engine"
)

// Operator actions on one message: resend (to some of its destinations, optionally with
// edited content) and reprocess (its raw or edited content through its channel again, as
// a new message). A message that failed at its source (never routed) has no delivery to
// resend: it is corrected and reprocessed.

// resendBody is the body of POST /api/messages/{id}/resend.
type resendBody struct {
	Destinations []string `json:"destinations"`
	Content      *string  `json:"content"`
}

func (s *Server) resend(w http.ResponseWriter, r *http.Request) {
	id, body, ok := actionRequest[resendBody](w, r)
	if !ok {
		return
	}
	names, err := s.eng.Resend(r.Context(), id, body.Destinations, editedContent(body.Content), actor(r))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message_id": id, "resent": names, "edited": body.Content != nil})
}

// reprocessBody is the body of POST /api/messages/{id}/reprocess.
type reprocessBody struct {
	Content *string `json:"content"`
}

func (s *Server) reprocess(w http.ResponseWriter, r *http.Request) {
	id, body, ok := actionRequest[reprocessBody](w, r)
	if !ok {
		return
	}
	res, err := s.eng.Reprocess(r.Context(), id, editedContent(body.Content), actor(r))
	if err != nil {
		writeOpError(w, err)
		return
	}
	out := map[string]any{"message_id": res.MessageID, "original_id": id, "status": res.Status, "edited": body.Content != nil}
	if res.Err != nil {
		out["error"] = res.Err.Error()
	}
	writeJSON(w, http.StatusCreated, out)
}

// actionRequest reads an operator action on one message: the id in the path and the JSON
// body. false: the request was bad and has been answered 400.
func actionRequest[T any](w http.ResponseWriter, r *http.Request) (id int64, body T, ok bool) {
	id, err := messageID(r)
	if err == nil {
		err = readBody(r, &body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return 0, body, false
	}
	return id, body, true
}

// editedContent is the content an operator gave for an action; nil when none. HL7v2
// content gets its segment separators back (hl7Segments): a browser's textarea turns
// every CR into a line feed.
func editedContent(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(hl7Segments(*s))
}

// hl7Segments ends every segment of HL7v2 ER7 text with CR, as the standard requires:
// an edited message comes back from a browser's textarea with its CRs made LF or CRLF
// (HTML normalises a textarea's line breaks), which a receiver would take for one long
// segment, or refuse. Text that does not start with an MSH, FHS or BHS segment (FHIR
// JSON or XML, CSV, anything else) is returned untouched.
func hl7Segments(s string) string {
	if !looksLikeHL7(s) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\r")
	return strings.ReplaceAll(s, "\n", "\r")
}

// looksLikeHL7 says whether text starts (after white space) with an MSH, FHS or BHS
// segment: the three letters and then the field separator, which is never a letter,
// digit or white space.
func looksLikeHL7(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n\ufeff")
	if len(t) < 4 {
		return false
	}
	switch t[:3] {
	case "MSH", "FHS", "BHS":
	default:
		return false
	}
	c := t[3]
	return c > ' ' && c < 0x7f && !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z')
}

// writeOpError answers an operator action's failure with the status that fits.
func writeOpError(w http.ResponseWriter, err error) {
	var oe *engine.OpError
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeError(w, http.StatusNotFound, strings.TrimSuffix(err.Error(), ": "+engine.ErrNotFound.Error()))
	case errors.As(err, &oe), errors.Is(err, engine.ErrNoDeliveries):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "the store cannot do it now: "+err.Error())
	}
}

// untransformed says, for the message page, why a message has no transformed content:
// it failed at its source or was filtered out (nothing ran to its end), its channel has
// no transform, or the transform left the content as it was.
func (s *Server) untransformed(m *engine.MessageDetail) string {
	if m.ContentRemoved {
		return "Content removed by the retention policy."
	}
	if len(m.Destinations) == 0 {
		switch m.Status {
		case engine.StatusError:
			return "Not transformed: the message failed at its source, before it was routed (see Error above). Correct it under Actions and reprocess it."
		case engine.StatusFiltered:
			return "Not transformed: the channel's filter left the message out, so nothing was sent."
		case engine.StatusReceived:
			return "Not transformed yet: the message has only been received."
		}
	}
	if ch := s.eng.Channel(m.Channel); ch != nil && len(ch.Transforms) == 0 {
		return "The channel has no transform: its destinations get the content as received."
	}
	return "The transform left the content unchanged."
}

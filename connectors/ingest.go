// Package connectors holds Junction's sources and destinations, one file each. They register
// themselves with the engine by type name; import the package for its side effects.
package connectors

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"junction/auth"
	"junction/engine"
	"junction/fhir"
	"junction/hl7"
	"junction/transforms"
)

// ingestFields are the ingest source's keys: its Build reads them by these specs.
var ingestFields = slices.Concat([]engine.FieldSpec{
	{Name: "listen", Type: "address", Required: true, Description: "host:port to listen on; channels naming the same address share one listener", Example: ":8000"},
	{Name: "domain", Type: "text", Required: true, Description: "the source-domain header value this channel takes", Example: "emergency-care"},
	{Name: "data_types", Type: "list", Default: "[Hl7v2]", Description: "data-type header values this channel takes: Hl7v2, FHIR, CSV (spelt exactly so)", Example: "[Hl7v2, FHIR]"},
	{Name: "ack.application", Type: "text", Default: "JUNCTION", Description: "MSH-3 of our ACKs", Example: "DEX"},
	{Name: "ack.facility", Type: "text", Description: "MSH-4 of our ACKs", Example: "QVV"},
	{Name: "ack.version", Type: "text", Default: "2.4", Description: "MSH-12 of an ACK when the message's own version cannot be read"},
	{Name: "max_body", Type: "size", Default: "10MB", Description: "largest request body taken; larger ones get 413"},
}, sourceSecurityFields)

func init() {
	engine.RegisterSource(engine.SourceSpec{
		Type:    "ingest",
		Summary: "HTTP POST {listen}/$ingest as the Healthcare Exchange takes it: HL7v2, FHIR or CSV as text/plain, routed by the source-domain and data-type headers, answered with an HL7 ACK (HL7v2) or an OperationOutcome (FHIR, CSV). With auth, a bearer token must grant the organisation-code and the source-domain sent.",
		Fields:  ingestFields,
		Build:   buildIngest,
	})
}

const ingestPath = "/$ingest"

// The seed's headers, in Go's canonical form (looked up without converting each time).
const (
	hdrSourceDomain = "Source-Domain"
	hdrOrgCode      = "Organisation-Code"
	hdrDataType     = "Data-Type"
)

// ingestRoute is one channel's claim on a (source-domain, data-type) pair.
type ingestRoute struct {
	channel  *engine.Channel
	verifier *auth.Verifier // nil: no token needed
	ack      ackConfig
	maxBody  int64
	line     int
}

// ingestTable dispatches the $ingest requests of one listener.
type ingestTable struct {
	routes  map[[2]string]*ingestRoute // {domain, data-type}
	domains map[string][]*ingestRoute
	first   *ingestRoute // answers envelope errors before a route is known
	maxBody int64        // the largest of the routes' limits: the request is read up to it
}

func buildIngest(n *engine.Node, ch *engine.Channel, e *engine.Engine) {
	n = n.WithSpec(ingestFields)
	listen := n.Address("listen")
	domain := n.Str("domain")
	types := n.Strs("data_types")
	for _, t := range types {
		if !validDataType(t) {
			n.ErrorAt(n.Raw("data_types"), n.Path+".data_types", "unknown data type %q (expected Hl7v2, FHIR or CSV, spelt exactly so)", t)
		}
	}
	r := &ingestRoute{channel: ch, line: lineOf(n, "domain"), ack: readACKConfig(n)}
	r.maxBody = n.Bytes("max_body")
	r.verifier = sourceAuth(n, e)
	ch.DataTypes = types
	ch.SourceInfo = fmt.Sprintf("ingest %s%s source-domain=%s data-type=%s", listen, ingestPath, domain, strings.Join(types, ","))
	if listen == "" || domain == "" || !ch.Enabled {
		return
	}

	l := httpSource(n, e, listen, r.verifier)
	warnOpenSource(n, e, r.verifier, "")
	tbl := l.ingest
	if tbl == nil {
		tbl = &ingestTable{routes: map[[2]string]*ingestRoute{}, domains: map[string][]*ingestRoute{}, first: r}
		l.ingest = tbl
		h := &ingestHandler{table: tbl, eng: e}
		l.router.Handle(ingestPath, h)
		l.refusals[ingestPath] = tbl.refuse
		addAdmit(l, h.admit)
	}
	for _, t := range types {
		key := [2]string{domain, t}
		if prev, dup := tbl.routes[key]; dup {
			n.ErrorAt(n.Raw("domain"), n.Path+".domain", "channel %q (line %d) already takes source-domain %q with data-type %s on %s", prev.channel.Name, prev.line, domain, t, listen)
			continue
		}
		tbl.routes[key] = r
	}
	tbl.domains[domain] = append(tbl.domains[domain], r)
	tbl.maxBody = max(tbl.maxBody, r.maxBody)
}

// readACKConfig reads a source's ack block by its spec (the defaults when it is absent).
func readACKConfig(n *engine.Node) ackConfig {
	a := n.BlockOrEmpty("ack")
	c := ackConfig{application: a.Str("application"), facility: a.Str("facility"), version: a.Str("version")}
	a.CheckUnknown()
	return c
}

func validDataType(t string) bool {
	for _, d := range transforms.DataTypes {
		if t == d {
			return true
		}
	}
	return false
}

type ingestHandler struct {
	table *ingestTable
	eng   *engine.Engine
}

func (h *ingestHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	received := time.Now()
	dataType := req.Header.Get(hdrDataType)
	body, route, reply := h.envelope(w, req, dataType)
	grant, admitted := admittedGrant(req)
	if reply == nil && route.verifier != nil && !admitted {
		grant, reply = h.authorize(req, route)
	}
	if reply == nil {
		reply = channelRefusal(h.eng, route.channel)
	}
	var msg *transforms.Message
	if reply == nil {
		if b := ingestBatch(dataType, body); b != nil {
			noteIngest(req, route, nil) // metrics.go
			h.serveBatch(w, req, route, b, received, grant)
			return
		}
		reply, msg = h.process(req, route, dataType, body, received, grant)
	}
	noteIngest(req, route, reply) // metrics.go
	if route == nil {
		route = h.table.first
	}
	h.respond(w, req, route, dataType, body, msg, reply)
}

// envelope checks everything but the content: method, size, headers, routing. A failure is
// answered AR: the message was not looked at.
func (h *ingestHandler) envelope(w http.ResponseWriter, req *http.Request, dataType string) ([]byte, *ingestRoute, *ackReply) {
	if req.Method != http.MethodPost {
		r := refuse(http.StatusMethodNotAllowed, "AR", fhir.CodeNotSupported, "method %s is not allowed on %s: send the message with POST", req.Method, ingestPath)
		r.header = http.Header{"Allow": {"POST"}}
		return nil, nil, r
	}
	limit := h.table.maxBody
	body, err := readBody(w, req, limit)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, refuse(http.StatusRequestEntityTooLarge, "AR", fhir.CodeTooLong, "request body is larger than the %s limit of this endpoint", humanSize(limit))
		}
		return nil, nil, refuse(http.StatusBadRequest, "AR", fhir.CodeStructure, "could not read the request body: %v", err)
	}
	if r := checkContentType(req.Header.Values("Content-Type")); r != nil {
		return body, nil, r
	}
	for _, h := range [...]struct{ name, key string }{
		{"source-domain", hdrSourceDomain}, {"organisation-code", hdrOrgCode}, {"data-type", hdrDataType},
	} {
		name, vals := h.name, req.Header[h.key]
		switch {
		case len(vals) == 0 || strings.TrimSpace(vals[0]) == "":
			return body, nil, refuse(http.StatusBadRequest, "AR", fhir.CodeRequired, "missing header %s (expected e.g. %s)", name, headerExample(name))
		case len(vals) > 1:
			return body, nil, refuse(http.StatusBadRequest, "AR", fhir.CodeInvalid, "header %s is given %d times: send it once", name, len(vals))
		}
	}
	if !validDataType(dataType) {
		return body, nil, refuse(http.StatusBadRequest, "AR", fhir.CodeValue, "header data-type must be exactly Hl7v2, FHIR or CSV (capitalisation matters), got '%s'", dataType)
	}
	domain := req.Header.Get(hdrSourceDomain)
	routes, known := h.table.domains[domain]
	if !known {
		return body, nil, refuse(http.StatusNotFound, "AR", fhir.CodeNotFound, "header source-domain: '%s' is not a source-domain of this endpoint", domain)
	}
	route := h.table.routes[[2]string{domain, dataType}]
	if route == nil {
		var takes []string
		for _, r := range routes {
			takes = append(takes, r.channel.DataTypes...)
		}
		return body, routes[0], refuse(http.StatusUnsupportedMediaType, "AR", fhir.CodeNotSupported, "header data-type: source-domain '%s' does not take %s (it takes %s)", domain, dataType, strings.Join(takes, ", "))
	}
	if int64(len(body)) > route.maxBody {
		return body, route, refuse(http.StatusRequestEntityTooLarge, "AR", fhir.CodeTooLong, "request body is larger than the %s limit of source-domain '%s'", humanSize(route.maxBody), domain)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return body, route, refuse(http.StatusBadRequest, "AR", fhir.CodeRequired, "the request body is empty: expected a %s message", dataType)
	}
	return body, route, nil
}

func checkContentType(vals []string) *ackReply {
	if len(vals) == 0 {
		return refuse(http.StatusUnsupportedMediaType, "AR", fhir.CodeNotSupported, "missing header Content-Type (expected text/plain, optionally with charset=utf-8)")
	}
	if len(vals) > 1 {
		return refuse(http.StatusUnsupportedMediaType, "AR", fhir.CodeNotSupported, "header Content-Type is given %d times: send it once", len(vals))
	}
	switch vals[0] {
	case "text/plain", "text/plain; charset=utf-8", "text/plain; charset=UTF-8":
		return nil // what senders send, without parsing it
	}
	mt, params, err := mime.ParseMediaType(vals[0])
	if err != nil || mt != "text/plain" {
		return refuse(http.StatusUnsupportedMediaType, "AR", fhir.CodeNotSupported, "header Content-Type must be text/plain (optionally with charset=utf-8), got '%s'", vals[0])
	}
	for k, v := range params {
		if k != "charset" {
			continue
		}
		if !strings.EqualFold(v, "utf-8") && !strings.EqualFold(v, "utf8") {
			return refuse(http.StatusUnsupportedMediaType, "AR", fhir.CodeNotSupported, "header Content-Type: charset must be utf-8 when given, got '%s'", v)
		}
	}
	return nil
}

func headerExample(name string) string {
	switch name {
	case "source-domain":
		return "emergency-care"
	case "organisation-code":
		return "r0d, an ODS code"
	}
	return "Hl7v2, FHIR or CSV"
}

// process hands the message to its channel and turns the result into a reply.
// authorize checks the bearer token, then that it grants the organisation and the
// source-domain sent. Refusals are AR: 401 (with WWW-Authenticate) or 403.
func (h *ingestHandler) authorize(req *http.Request, route *ingestRoute) (*auth.Grant, *ackReply) {
	g, err := route.verifier.VerifyRequest(req)
	if err == nil {
		err = g.Allows(req.Header.Get(hdrOrgCode), req.Header.Get(hdrSourceDomain))
	}
	if err == nil {
		return g, nil
	}
	status, code := auth.StatusOf(err), fhir.CodeLogin
	if status == http.StatusForbidden {
		code = fhir.CodeForbidden
	}
	r := refuse(status, "AR", code, "%v", err)
	r.header = http.Header{"Www-Authenticate": {auth.WWWAuthenticate(err)}}
	return nil, r
}

func (h *ingestHandler) process(req *http.Request, route *ingestRoute, dataType string, body []byte, received time.Time, grant *auth.Grant) (*ackReply, *transforms.Message) {
	in := &engine.Inbound{
		DataType:     dataType,
		Body:         body,
		Meta:         requestMeta(req, grant),
		SourceDomain: req.Header.Get(hdrSourceDomain),
		OrgCode:      req.Header.Get(hdrOrgCode),
		ReceivedAt:   received,
	}
	res := route.channel.Process(req.Context(), in)
	return resultReply(h.eng.Log, route.channel, res), res.Msg
}

func (h *ingestHandler) respond(w http.ResponseWriter, req *http.Request, route *ingestRoute, dataType string, body []byte, msg *transforms.Message, r *ackReply) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	if r.messageID != 0 {
		w.Header().Set("Junction-Message-Id", strconv.FormatInt(r.messageID, 10))
	}
	oo := fhir.NewOutcome(r.issue)
	// Without h.eng: the listener's own refusals (refuseOverloaded), not logged one by
	// one, lest a flood flood the log too.
	if r.status >= 400 && h.eng != nil {
		h.eng.Log.Info("ingest refused", "status", r.status, "ack", r.code, "reason", r.issue.Diagnostics, "remote", req.RemoteAddr)
	}
	if !answersWithACK(dataType, body) {
		w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
		w.WriteHeader(r.status)
		w.Write(oo.JSON())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(r.status)
	w.Write(ingestACK(req, route, r, oo, msg, body))
}

// ingestACK is the ACK answering the HL7v2 message body (msg, parsed; nil when it did
// not parse) with r: from the route's ack application and facility to the source-domain
// and organisation-code sent, MSA-3 the OperationOutcome oo.
func ingestACK(req *http.Request, route *ingestRoute, r *ackReply, oo *fhir.OperationOutcome, msg *transforms.Message, body []byte) []byte {
	ack := route.ack.newACK(r.code, msg, body)
	ack.ReceivingApp = req.Header.Get(hdrSourceDomain)
	ack.ReceivingFacility = req.Header.Get(hdrOrgCode)
	ack.Text = string(oo.JSON())
	return ack.Bytes()
}

// refuse answers what the listener turns away before $ingest sees it (503: too many
// requests at once or no room in the memory budget, Retry-After set; 413: larger than
// the whole budget) with an ACK or OperationOutcome as for a store that cannot take the
// message.
func (t *ingestTable) refuse(w http.ResponseWriter, req *http.Request, status int, reason string) {
	code, ack := fhir.CodeTransient, "AE"
	if status == http.StatusRequestEntityTooLarge {
		code, ack = fhir.CodeTooLong, "AR"
	}
	h := &ingestHandler{table: t}
	h.respond(w, req, t.first, req.Header.Get(hdrDataType), nil, nil, refuse(status, ack, code, "%s", reason))
}

// channelRefusal is the answer to a message of a channel an operator stopped or paused
// (503, AE, transient: send it again later, naming the channel), or nil when it takes
// messages.
func channelRefusal(e *engine.Engine, ch *engine.Channel) *ackReply {
	err := e.SourceRefusal(ch)
	if err == nil {
		return nil
	}
	r := refuse(http.StatusServiceUnavailable, "AE", fhir.CodeTransient, "%v", err)
	r.header = http.Header{"Retry-After": {"30"}}
	r.reason = engine.RefusalChannelStopped
	return r
}

// answersWithACK: HL7v2 gets an ACK. When the data-type header is missing or wrong we
// cannot know, so a body that looks like HL7v2 gets an ACK and anything else an outcome.
func answersWithACK(dataType string, body []byte) bool {
	switch dataType {
	case transforms.HL7v2:
		return true
	case transforms.FHIR, transforms.CSV:
		return false
	}
	return sniffControlID(body) != "" || strings.HasPrefix(strings.TrimPrefix(string(body), "\ufeff"), "MSH")
}

// ingestBatch is body split into its messages when it is an HL7v2 batch (FHS or BHS
// first) or several messages one after another; nil for one message, and for content
// that is not HL7v2 at all, which keep the single-message path as it was. Bodies that
// could not be a batch are told apart without splitting them.
func ingestBatch(dataType string, body []byte) *hl7.Batch {
	if dataType != transforms.HL7v2 {
		return nil
	}
	start := bytes.TrimLeft(bytes.TrimPrefix(body, utf8BOM), "\x0b\r\n")
	if !bytes.HasPrefix(start, []byte("BHS")) && !bytes.HasPrefix(start, []byte("FHS")) &&
		!bytes.Contains(body, []byte("\rMSH")) && !bytes.Contains(body, []byte("\nMSH")) {
		return nil
	}
	b, err := hl7.SplitBatch(body)
	if err != nil || b.Header.Segment == "" && b.File.Segment == "" && len(b.Messages) <= 1 {
		return nil
	}
	return b
}

// serveBatch processes each message of a batch body in order as its own message, as a
// body holding only it would be, and answers with a batch of their ACKs (see
// batchStatus for the HTTP status). Once a message cannot be stored, those after it are
// not processed (answered AE, to be sent again), so that sending them again keeps their
// order. Junction-Message-Id lists the ids of the messages logged, in order.
func (h *ingestHandler) serveBatch(w http.ResponseWriter, req *http.Request, route *ingestRoute, b *hl7.Batch, received time.Time, grant *auth.Grant) {
	meta := requestMeta(req, grant)
	replies := make([]*ackReply, len(b.Messages))
	acks := make([][]byte, len(b.Messages))
	var ids []string
	notStored := 0 // the first message that could not be stored (1-based)
	for i, raw := range b.Messages {
		raw = bytes.Clone(raw) // the store may keep it: not the whole body with it
		var r *ackReply
		var msg *transforms.Message
		if notStored > 0 {
			r = refuse(http.StatusServiceUnavailable, "AE", fhir.CodeTransient, "message %d of the batch was not processed, since message %d before it could not be stored; send both again later", i+1, notStored)
		} else {
			m := maps.Clone(meta)
			m["batch-index"] = strconv.Itoa(i + 1)
			res := route.channel.Process(req.Context(), &engine.Inbound{
				DataType: transforms.HL7v2, Body: raw, Meta: m, ReceivedAt: received,
				SourceDomain: req.Header.Get(hdrSourceDomain), OrgCode: req.Header.Get(hdrOrgCode),
			})
			r, msg = resultReply(h.eng.Log, route.channel, res), res.Msg
			if res.StoreErr != nil {
				notStored = i + 1
			}
		}
		if r.messageID != 0 {
			ids = append(ids, strconv.FormatInt(r.messageID, 10))
		}
		replies[i] = r
		acks[i] = ingestACK(req, route, r, fhir.NewOutcome(r.issue), msg, raw)
	}
	status, hdr := batchStatus(replies)
	for k, v := range hdr {
		w.Header()[k] = v
	}
	if len(ids) > 0 {
		w.Header().Set("Junction-Message-Id", strings.Join(ids, ","))
	}
	if status >= 400 {
		h.eng.Log.Info("ingest batch answered", "status", status, "messages", len(replies), "remote", req.RemoteAddr)
	}
	ba := hl7.NewBatchACK(b, acks)
	ba.Time = time.Now()
	ba.ControlID = uuid.NewString()
	if ba.File {
		ba.FileControlID = uuid.NewString()
	}
	d := ba.Delims
	if d.Field == 0 {
		d = hl7.DefaultDelimiters
	}
	ba.SendingApp, ba.SendingFacility = hl7.Escape(route.ack.application, d), hl7.Escape(route.ack.facility, d)
	ba.ReceivingApp, ba.ReceivingFacility = hl7.Escape(req.Header.Get(hdrSourceDomain), d), hl7.Escape(req.Header.Get(hdrOrgCode), d)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write(ba.Bytes())
}

// batchStatus is the HTTP status of a batch's answer: 503 (with Retry-After) when a
// message could not be stored, else 200 when every message is answered AA, else the
// status of the first message that is not.
func batchStatus(replies []*ackReply) (int, http.Header) {
	for _, r := range replies {
		if r.status == http.StatusServiceUnavailable {
			return r.status, http.Header{"Retry-After": {"5"}}
		}
	}
	for _, r := range replies {
		if r.code != "AA" {
			return r.status, nil
		}
	}
	return http.StatusOK, nil
}

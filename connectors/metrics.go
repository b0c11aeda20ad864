package connectors

import (
	"context"
	"net/http"
	"strings"
	"time"

	"junction/engine"
	"junction/fhir"
)

// What the sources tell the engine's metrics (engine/metrics.go): each request an HTTP
// listener answers and each message an MLLP listener answers, with its latency, the
// channel that took it and, when it was not accepted, why (a bounded reason).
//
// An HTTP listener times every request in one wrapper around its handler (observeHTTP);
// the handlers only say what the status code cannot: the channel, and the reason of a 503
// (a stopped channel or the store, not an overload) or a 422 (filtered, or a failed
// transform). The reason is otherwise read from the status answered.

// Source types (the source label).
const (
	sourceIngest = "ingest"      // POST /$ingest
	sourceBundle = "fhir-bundle" // PUT {base}/Bundle/{id}
	sourceMLLP   = "mllp"        // one message of an MLLP frame
	sourceFHIR   = "fhir-api"    // the other FHIR requests on a listener: reads, search, metadata, $validate
	sourceOther  = "other"       // anything else (an unknown path)
)

// requestObs is what a request's handlers tell its listener's metrics.
type requestObs struct {
	channel string
	reason  string
	decided bool // reason is set by a handler ("": accepted); else the status tells
}

type obsKey struct{}

// observed is the request's requestObs (nil without metrics).
func observed(req *http.Request) *requestObs {
	o, _ := req.Context().Value(obsKey{}).(*requestObs)
	return o
}

// noteIngest tells the metrics which channel a $ingest request went to (route nil: none)
// and, when r is not nil, the reply it gets.
func noteIngest(req *http.Request, route *ingestRoute, r *ackReply) {
	o := observed(req)
	if o == nil {
		return
	}
	if route != nil && route.channel != nil {
		o.channel = route.channel.Name
	}
	if r != nil {
		o.reason, o.decided = reasonOfReply(r), true
	}
}

// noteChannel tells the metrics which channel takes a request.
func noteChannel(req *http.Request, ch *engine.Channel) {
	if o := observed(req); o != nil && ch != nil {
		o.channel = ch.Name
	}
}

// noteRefusal tells the metrics why a request is refused, when its status does not.
func noteRefusal(req *http.Request, reason string) {
	if o := observed(req); o != nil {
		o.reason, o.decided = reason, true
	}
}

// observeHTTP times every request the listener answers and counts its refusals. Without
// metrics (nil at Start) it is h itself.
func observeHTTP(l *httpListener, h http.Handler) http.Handler {
	m := l.eng.Metrics()
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		o := &requestObs{}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, req.WithContext(context.WithValue(req.Context(), obsKey{}, o)))
		source := l.sourceOf(req)
		reason := o.reason
		if !o.decided {
			reason = reasonOfStatus(sw.status)
			if source == sourceFHIR || source == sourceOther {
				// A read's 404 is an answer, not a refusal: only the listener's own count.
				switch reason {
				case engine.RefusalUnauthorized, engine.RefusalTooLarge, engine.RefusalOverloaded:
				default:
					reason = ""
				}
			}
		}
		m.ObserveSource(source, o.channel, reason, time.Since(start))
	})
}

// sourceOf is the source type a request is for, from its path and method.
func (l *httpListener) sourceOf(req *http.Request) string {
	p := req.URL.Path
	if p == ingestPath {
		return sourceIngest
	}
	for base := range l.bundles {
		if strings.HasPrefix(p, base+"/") {
			if req.Method == http.MethodPut {
				return sourceBundle
			}
			return sourceFHIR
		}
	}
	if len(l.stores) > 0 || len(l.bundles) > 0 {
		return sourceFHIR
	}
	return sourceOther
}

// reasonOfStatus is the refusal an HTTP status says ("" for a success).
func reasonOfStatus(status int) string {
	switch {
	case status < 400:
		return ""
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return engine.RefusalUnauthorized
	case status == http.StatusRequestEntityTooLarge:
		return engine.RefusalTooLarge
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		return engine.RefusalOverloaded
	case status >= 500:
		return engine.RefusalOther
	}
	return engine.RefusalInvalid
}

// reasonOfReply is the refusal an ACK reply stands for ("" when accepted).
func reasonOfReply(r *ackReply) string {
	switch {
	case r.reason != "":
		return r.reason
	case r.code == "AA" && r.status < 400:
		return ""
	case r.status == http.StatusUnprocessableEntity && r.issue.Code == fhir.CodeBusinessRule:
		return engine.RefusalFiltered // filtered_ack: AR
	case r.status == http.StatusUnprocessableEntity && r.code == "AE":
		return engine.RefusalProcessing
	}
	return reasonOfStatus(r.status)
}

// statusWriter notes the status a handler answers.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rawWriter is the server's own ResponseWriter under a statusWriter: http.MaxBytesReader
// needs it to close the connection after a body over its limit.
func rawWriter(w http.ResponseWriter) http.ResponseWriter {
	if sw, ok := w.(*statusWriter); ok {
		return sw.ResponseWriter
	}
	return w
}

// observeMessage records one message an MLLP listener answered with r (route nil: no
// channel takes it), received when its frame arrived.
func (l *mllpListener) observeMessage(route *mllpRoute, r *ackReply, received time.Time) {
	m := l.eng.Metrics()
	if m == nil {
		return
	}
	channel := ""
	if route != nil && route.channel != nil {
		channel = route.channel.Name
	}
	m.ObserveSource(sourceMLLP, channel, reasonOfReply(r), time.Since(received))
}

// countRefused counts n messages an MLLP listener refused with r before any channel
// looked at them (too large, too many in a frame, no room in the memory budget).
func (l *mllpListener) countRefused(n int, r *ackReply) {
	m := l.eng.Metrics()
	if m == nil {
		return
	}
	for range n {
		m.CountRefusal(sourceMLLP, "", reasonOfReply(r))
	}
}

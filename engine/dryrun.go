package engine

import "junction/transforms"

// DryResult is what a channel would make of a message: what Process would store and
// route, and what the sender would be answered, with nothing stored or sent.
type DryResult struct {
	// Status is TRANSFORMED (routed to Destinations), FILTERED or ERROR.
	Status Status
	// Msg is the message after the channel's transforms (nil when it did not parse).
	Msg *transforms.Message
	// Body is the content the destinations would get: the transformed content, or the
	// content received when the transforms left it unchanged. Nil unless TRANSFORMED.
	Body []byte
	// Err says why the message is FILTERED (a *FilteredError) or ERROR.
	Err error
	// Warnings are the values toFHIR() could not convert (nil when none).
	Warnings []Warning
	// Destinations names the destinations that would receive the message.
	Destinations []string
	// Skipped are the destinations whose filter would leave it out (FILTERED) or fail
	// (ERROR), with why.
	Skipped []SkippedDestination
	// Columns are the custom metadata column values that would be stored (nil when none).
	Columns map[string]string
	// ACK is the code an HL7v2 sender ($ingest, MLLP) would get: AA, AE or AR.
	ACK string
}

// DryRun runs a message through the channel's steps (parse, filters, transforms, the
// choice of destinations) exactly as Process does, and reports the outcome: nothing is
// stored, queued or delivered, and the channel's engine need not be started. It is
// what `junction test` runs test cases with.
func (c *Channel) DryRun(in *Inbound) DryResult {
	o := c.steps(in)
	c.addColumns(in, &o) // columns.go
	r := DryResult{Status: o.status, Msg: o.msg, Err: o.err, Warnings: o.warnings, Destinations: o.destinations,
		Skipped: o.skipped, Columns: o.columns}
	if o.status == StatusTransformed {
		r.Body = o.out
		if r.Body == nil {
			r.Body = in.Body
		}
	}
	r.ACK = c.ACKCode(Result{Status: o.status, Err: o.err})
	return r
}

// ACKCode is the acknowledgement code the sender of a message gets from an HL7v2 source
// ($ingest, MLLP) for what became of it: AE when it could not be stored (send it again
// later) or is in ERROR, the channel's filtered_ack (AA by default, or AR) when
// filtered, else AA. connectors' ACKs and `junction test` both ask this.
func (c *Channel) ACKCode(r Result) string {
	switch {
	case r.StoreErr != nil, r.Status == StatusError:
		return "AE"
	case r.Status == StatusFiltered && c.FilteredACK == "AR":
		return "AR"
	}
	return "AA"
}

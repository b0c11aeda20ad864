package hl7tofhir

import (
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/google/uuid"
)

// entry is one resource of the transaction Bundle.
type entry struct {
	key     string // business key the id derives from ("" for a chosen id)
	rtype   string
	id      string
	fullURL string
	res     *Object
	refObj  *Object // the Reference, made once (see ref)
	dropped bool    // removed by rollback
}

// ref is a Reference to the entry. References always use the entry's
// fullUrl, so every reference resolves inside the Bundle, and a server
// processing the transaction rewrites them to Type/id. Every reference to
// the entry is the same Object (100,000 Observations share one subject), so
// callers must not change it.
func (e *entry) ref() *Object {
	if e.refObj == nil {
		e.refObj = obj("reference", e.fullURL)
	}
	return e.refObj
}

// Ids. Every resource is PUT to a deterministic id, so converting the same
// message twice yields the same Bundle and replaying it updates rather than
// duplicates. Ids are name-based (v5) UUIDs of a key:
//
//   - a business key where v2 has one, so later messages about the same
//     thing update the same resource: the visit number for the Encounter,
//     the filler/placer order number for a DiagnosticReport (and its OBX
//     set IDs for the Observations), the identifier of a Practitioner,
//     Organization or Location, the patient and allergen for an allergy;
//   - otherwise the sender (MSH-3, MSH-4), MSH-10 and the segment's position,
//     stable for this message only.
//
// The Patient's id is chosen by Options.PatientID (default: NHS number).

// idFor returns the id for a resource of type rtype with business key key.
func (c *conv) idFor(rtype, key string) string {
	return uuid.NewSHA1(c.ns, []byte(rtype+"|"+key)).String()
}

// msgKey is a key unique to this message and segment, for resources with no
// business key.
func (c *conv) msgKey(s seg) string {
	return c.msgPrefix + "|" + s.label()
}

// maxKeyPart bounds the message values a key carries as they are. Keys are
// hashed into ids, and some are built once per segment from a value the
// segment shares (the sender, MSH-10, its report's order number): an absurd
// value (a 4 MB MSH-10) would be copied and hashed once per segment, making
// conversion quadratic in the message size. Longer values are replaced by
// their SHA-256; no real sender, control ID or order number is that long, so
// ids are as they always were.
const maxKeyPart = 256

// keyPart returns s, or a digest of it when it is longer than maxKeyPart.
func keyPart(s string) string {
	if len(s) <= maxKeyPart {
		return s
	}
	h := sha256.New()
	io.WriteString(h, s)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// entry returns the entry for rtype with business key key, creating it
// (with resourceType and id set) if this message has not made it yet; isNew
// tells the caller whether to fill it in.
func (c *conv) entry(rtype, key string) (e *entry, isNew bool) {
	e, isNew = c.entryWithID(rtype, c.idFor(rtype, key))
	e.key = key
	return e, isNew
}

// entryWithID is entry for a resource whose id is already chosen.
func (c *conv) entryWithID(rtype, id string) (e *entry, isNew bool) {
	k := rtype + "/" + id
	if e := c.byKey[k]; e != nil {
		return e, false
	}
	// Room for the members a mapping sets one by one (an Observation has a
	// dozen), so the resource is not copied as it grows.
	res := &Object{members: make([]member, 0, 16)}
	res.Set("resourceType", rtype).Set("id", id)
	e = &entry{rtype: rtype, id: id, res: res}
	switch {
	case c.opts.BaseURL != "":
		e.fullURL = c.opts.BaseURL + "/" + k
	case uuid.Validate(id) == nil:
		e.fullURL = "urn:uuid:" + id
	default:
		// A chosen id that is not a UUID (an NHS number): the urn:uuid is
		// derived from it, and the server maps it to Patient/<id> on PUT.
		e.fullURL = "urn:uuid:" + c.idFor(rtype, "fullUrl|"+id)
	}
	c.byKey[k] = e
	c.entries = append(c.entries, e)
	return e, true
}

// bundle renders the transaction Bundle.
func (c *conv) bundle() *Object {
	entries := make([]any, len(c.entries))
	for i, e := range c.entries {
		entries[i] = obj(
			"fullUrl", e.fullURL,
			"resource", e.res,
			"request", obj("method", "PUT", "url", e.rtype+"/"+e.id),
		)
	}
	return obj(
		"resourceType", "Bundle",
		"id", c.idFor("Bundle", c.sender+"|"+c.controlID),
		"identifier", c.messageIdentifier(),
		"type", "transaction",
		"timestamp", c.timestamp,
		"entry", entries,
	)
}

// rollback removes the entries made since mark: a segment whose mapping
// failed part way (a warning) leaves no half-made resource behind, nor
// the Practitioners and Locations only it referred to. The group's
// pointers to removed entries are cleared. Entries only ever grow at the
// end, so this costs what the segment added.
func (c *conv) rollback(mark int, g *group) {
	if mark >= len(c.entries) {
		return
	}
	for _, e := range c.entries[mark:] {
		delete(c.byKey, e.rtype+"/"+e.id)
		e.dropped = true
		if e == c.encounter {
			c.encounter = nil
		}
	}
	c.entries = c.entries[:mark]
	for _, p := range []**entry{&g.report, &g.imm, &g.obs} {
		if *p != nil && (*p).dropped {
			*p = nil
		}
	}
}

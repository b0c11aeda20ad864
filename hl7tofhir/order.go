package hl7tofhir

import "strconv"

// order is what the OBR and RXA segments of an order group take from the
// ORC that opened it: the placer and filler numbers (ORC-2, ORC-3) when the
// segment has none of its own, and for RXA the ordering providers (ORC-12).
// Each is read once per ORC, however many segments the group has, so a
// long ORC is not read again for each of them; what each resource takes is
// charged to the message's copy allowance (see charge).
type order struct {
	orc            seg
	placer, filler orderID
	providers      []any // ORC-12 as Immunization.performer (function OP)
	providersSize  int   // their JSON size
	providersRead  bool
	x              *orderExt // what order messages make of the group (orc_servicerequest.go)
}

// orderID is ORC-2 or ORC-3 as an Identifier, with its key and JSON size.
type orderID struct {
	id   *Object
	key  string
	size int
	read bool
}

func (o *order) placerID(c *conv) orderID {
	if !o.placer.read {
		o.placer = readOrderID(c, o.orc, 2, "PLAC")
	}
	return o.placer
}

func (o *order) fillerID(c *conv) orderID {
	if !o.filler.read {
		o.filler = readOrderID(c, o.orc, 3, "FILL")
	}
	return o.filler
}

func readOrderID(c *conv, orc seg, field int, typ string) orderID {
	if orc.v == nil { // a group opened without an ORC (see group.ext)
		return orderID{read: true}
	}
	id, key := c.entityIdentifier(orc.field(field, 1), typ)
	size := 0
	if id != nil {
		size = jsonSize(id, false, 0)
	}
	return orderID{id: id, key: key, size: size, read: true}
}

// orderingProviders maps ORC-12 to Immunization performers, once.
func (o *order) orderingProviders(c *conv) []any {
	if !o.providersRead && o.orc.v != nil {
		o.providersRead = true
		for r := 1; r <= o.orc.reps(12); r++ {
			if p := c.practitioner(o.orc.field(12, r)); p != nil {
				perf := performer("OP", "Ordering Provider", p)
				o.providers = append(o.providers, perf)
				o.providersSize += jsonSize(perf, false, 0)
			}
		}
	}
	return o.providers
}

// copyAllowance is how much copying ORC values into the resources of their
// order group may add to a Bundle, in JSON bytes: twice the message's size
// plus 1 MiB. A real order copies a few identifiers and providers into a
// few resources, far below it. Without it a hostile message could make the
// Bundle, and the time to build it, quadratic in its own size: a 4 MB ORC-2
// above 100,000 OBRs that each have a filler number of their own, or 50,000
// ordering providers above 50,000 RXAs.
func copyAllowance(messageSize int) int { return 2*messageSize + 1<<20 }

// charge records that a new resource of o's group took n JSON bytes of ORC
// values, and refuses the message once its allowance is spent: only a
// hostile message gets there, and converting it without the ORC's values
// would silently detach its resources from their order.
func (c *conv) charge(o *order, n int) error {
	c.copied += n
	if c.copied <= c.copyLimit {
		return nil
	}
	return refusal(o.orc.label(), "",
		"is copied into each resource of its order group, which would add more than "+strconv.Itoa(c.copyLimit)+" bytes to the Bundle",
		"fewer OBR or RXA segments per ORC, or placer and filler numbers in each OBR (OBR-2, OBR-3) rather than in the ORC")
}

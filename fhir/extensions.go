package fhir

import (
	"fmt"
	"strings"
)

// extension validates an Extension node against its definition: the profile its element
// type names (a slice like Condition.extension:followUpEncounter), or else the
// StructureDefinition its url resolves to. It returns false when there is no definition to
// validate against (the caller then validates against the element definition alone).
func (c *vctx) extension(n *node, d *elemDef) bool {
	url := n.childValue("url")
	var prof *profile
	if tr := d.typeRef("Extension"); tr != nil && len(tr.profiles) == 1 {
		p, err := c.v.profileByURL(tr.profiles[0], d.prof.pkg)
		if err != nil {
			c.is.add(n, SeverityWarning, CodeProcessing, fmt.Sprintf("Unable to locate the profile '%s' in order to validate against it", tr.profiles[0]))
		} else {
			prof = p
		}
	}
	if prof == nil {
		if url == "" {
			return false // ext-1 / Extension.url cardinality report it
		}
		if !strings.Contains(url, ":") {
			c.is.add(n, SeverityError, CodeStructure, "Extension.url must be an absolute URL")
			return false
		}
		sd := c.v.reg.structure(url, d.prof.pkg)
		if sd == nil || sd.Type != "Extension" {
			if strings.HasPrefix(url, "http://hl7.org/") || strings.HasPrefix(url, "http://terminology.hl7.org/") {
				c.is.add(n, SeverityWarning, CodeStructure, fmt.Sprintf("Unknown extension %s", url))
			} else {
				c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("The extension %s is unknown, and not allowed here", url))
			}
			return false
		}
		p, err := c.v.profile(sd)
		if err != nil {
			c.is.add(n, SeverityError, CodeProcessing, err.Error())
			return false
		}
		prof = p
	}
	c.extensionContext(n, prof)
	c.element(n, prof.root)
	return true
}

// extensionContext checks the definition's context against where the extension is used.
func (c *vctx) extensionContext(n *node, p *profile) {
	if len(p.sd.Context) == 0 || n.parent == nil {
		return
	}
	host := n.parent
	paths := elementPaths(host)
	var allowed []string
	for _, ctx := range p.sd.Context {
		allowed = append(allowed, ctx.Expression)
		if ctx.Type == "fhirpath" {
			return // contexts given as FHIRPath are not checked here
		}
		if ctx.Type == "extension" {
			if host.typ == "Extension" && host.childValue("url") == ctx.Expression {
				return
			}
			continue
		}
		for _, p := range paths {
			if ctx.Expression == p {
				return
			}
		}
	}
	c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("The extension %s is not allowed to be used at this point (allowed = %s; this element is [%s])", p.url, strings.Join(allowed, ", "), strings.Join(paths, ", ")))
}

// elementPaths lists the names an element answers to in extension contexts: its path from
// the resource (Condition.code), its type (CodeableConcept), and the generic ones.
func elementPaths(n *node) []string {
	out := []string{"Element"}
	if n.resource {
		out = append(out, n.typ, "Resource", "DomainResource")
		return out
	}
	out = append(out, n.typ)
	var parts []string
	x := n
	for ; x != nil && !x.resource; x = x.parent {
		parts = append([]string{x.name}, parts...)
		if x.parent != nil && !x.parent.resource && dataTypes[x.parent.typ] {
			// Inside a data type: the path starts at the type (Identifier.assigner).
			out = append(out, x.parent.typ+"."+strings.Join(parts, "."))
		}
	}
	if x != nil {
		out = append(out, x.typ+"."+strings.Join(parts, "."))
	}
	if n.typ == "BackboneElement" {
		out = append(out, "BackboneElement")
	}
	return out
}

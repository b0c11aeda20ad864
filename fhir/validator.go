package fhir

import (
	"fmt"
	"strings"
	"sync"
)

// Validator checks FHIR R4 resources (typically Bundles) against StructureDefinitions the
// way the HL7 validator inside HAPI FHIR does, reporting all issues at once in document
// order. Build it once with NewValidator and reuse it: it is safe for concurrent use, and it
// keeps compiled profiles, parsed invariants and ValueSet expansions between calls.
type Validator struct {
	reg      *registry
	types    map[string]*typeInfo
	term     *terminology
	profiles sync.Map // profKey → *profEntry
}

type profKey struct {
	sd *StructureDefinition
}

type profEntry struct {
	once sync.Once
	p    *profile
	err  error
}

// Options says what one validation accepts.
type Options struct {
	// Profiles are the profile URLs the root resource may claim in meta.profile; one of them
	// must be claimed. Empty: any (the root is validated against its meta.profile, or the base
	// definition of its type).
	Profiles []string
	// ProcessingCodes reports every issue with code "processing", as the HAPI FHIR server
	// behind the Care Gateway does (see the seed's examples); otherwise each issue carries the
	// IssueType the HL7 validator assigns (structure, required, value, invariant, code-invalid…).
	ProcessingCodes bool
	// Context holds resources that resolve() in invariants reaches by Type/id beyond the
	// resource's own Bundle and contained ones (as the IG Publisher resolves against the other
	// examples of a guide).
	Context *Resources
}

// NewValidator builds a validator over the built-in FHIR R4 core and the given packages.
// Dependencies between packages are resolved by name#version among those given; profiles
// without a snapshot get one generated from their differential (or are refused here with the
// reason). Every profile is compiled now, so a broken one fails here and not mid-request.
func NewValidator(pkgs ...*Package) (*Validator, error) {
	core, err := CorePackage()
	if err != nil {
		return nil, err
	}
	reg, err := newRegistry(core, pkgs)
	if err != nil {
		return nil, err
	}
	v := &Validator{reg: reg, term: &terminology{reg: reg}}
	v.types = buildTypeInfos(reg)
	for _, p := range pkgs {
		for _, sd := range p.structures {
			if sd.Snapshot == nil || len(sd.Snapshot.Element) == 0 {
				if err := generateSnapshot(reg, sd, p); err != nil {
					return nil, fmt.Errorf("package %s: %w", p.ID(), err)
				}
			}
		}
	}
	for _, p := range pkgs {
		for _, sd := range p.structures {
			if sd.Kind == "logical" {
				continue
			}
			if _, err := v.profile(sd); err != nil {
				return nil, fmt.Errorf("package %s: %w", p.ID(), err)
			}
		}
	}
	return v, nil
}

// profile compiles (once) and returns a StructureDefinition.
func (v *Validator) profile(sd *StructureDefinition) (*profile, error) {
	e, _ := v.profiles.LoadOrStore(profKey{sd}, &profEntry{})
	pe := e.(*profEntry)
	pe.once.Do(func() { pe.p, pe.err = compileProfile(sd, v.reg.ownerOf(sd)) })
	return pe.p, pe.err
}

// profileByURL resolves and compiles a profile named from package from.
func (v *Validator) profileByURL(url string, from *Package) (*profile, error) {
	sd := v.reg.structure(url, from)
	if sd == nil {
		return nil, fmt.Errorf("profile %s is not known to the validator", url)
	}
	return v.profile(sd)
}

// baseProfile is the core definition of a type or resource.
func (v *Validator) baseProfile(t string) *profile {
	sd := v.reg.coreType(t)
	if sd == nil {
		return nil
	}
	p, _ := v.profile(sd)
	return p
}

// Validate checks one JSON resource. The error is only for faults of the validator itself;
// everything wrong with the input, including JSON syntax, is in the outcome.
func (v *Validator) Validate(data []byte, opts Options) (oo *OperationOutcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			oo, err = nil, fmt.Errorf("fhir validator: internal error: %v", r)
		}
	}()
	j, perr := parseJSON(data)
	if perr != nil {
		line, col := 1, 1
		if je, ok := perr.(*JSONError); ok {
			line, col = je.Line, je.Col
		}
		return v.finish([]Issue{{
			Severity:    SeverityFatal,
			Code:        CodeStructure,
			Diagnostics: "Error parsing JSON: " + perr.Error(),
			Location:    []string{fmt.Sprintf("Line %d, Col %d", line, col)},
		}}, opts), nil
	}
	c := &vctx{v: v, is: &issues{}, context: opts.Context, conform: map[confKey]int8{}, targetDone: map[confKey]bool{}, invDone: map[invKey]bool{}, typeInvDone: map[*node]bool{}}
	if j.kind != jsonObject {
		return v.finish([]Issue{{Severity: SeverityFatal, Code: CodeStructure, Diagnostics: "Error parsing JSON: the document must be a JSON object (a FHIR resource)",
			Location: []string{fmt.Sprintf("Line %d, Col %d", j.line, j.col)}}}, opts), nil
	}
	rd := &reader{types: v.types, issues: c.is}
	root := rd.readResource(j, nil, "")
	if root.typ == "Bundle" {
		c.bundle = indexBundle(root)
		c.bundleEntries(root)
		c.bundleRules(root)
	}
	c.containedRules(root)
	c.validateRoot(root, opts.Profiles)
	return v.finish(c.is.sorted(), opts), nil
}

func (v *Validator) finish(list []Issue, opts Options) *OperationOutcome {
	if opts.ProcessingCodes {
		for i := range list {
			list[i].Code = CodeProcessing
		}
	}
	if len(list) == 0 {
		list = []Issue{{Severity: SeverityInformation, Code: CodeInformational, Diagnostics: "No issues detected during validation"}}
	}
	return NewOutcome(list...)
}

// vctx is the state of one validation.
type vctx struct {
	v           *Validator
	is          *issues
	bundle      *bundleIndex
	conform     map[confKey]int8 // 1 conforms, -1 does not, 2 being checked
	targetDone  map[confKey]bool // reference targets validated against their one target profile
	invDone     map[invKey]bool
	typeInvDone map[*node]bool
	context     *Resources // Options.Context
	depth       int
	isolated    int // >0 within FHIRPath conformsTo(): reference targets are not followed
}

// confKey is a node checked against a profile, on its own (isolated) or with the targets
// of its references.
type confKey struct {
	n        *node
	p        *profile
	isolated bool
}

type invKey struct {
	n   *node
	key string
}

// validateRoot checks the root resource's claimed profiles against the accepted ones, then
// validates the whole tree.
func (c *vctx) validateRoot(root *node, accepted []string) {
	if root.typ == "Resource" || c.v.types[root.typ] == nil {
		return
	}
	claimed := metaProfiles(root)
	if len(accepted) > 0 {
		ok := false
		for _, p := range claimed {
			for _, a := range accepted {
				if stripVersion(p) == stripVersion(a) {
					ok = true
				}
			}
		}
		if !ok {
			msg := fmt.Sprintf("The resource does not claim a profile accepted here: meta.profile must name one of %s", strings.Join(accepted, ", "))
			if len(claimed) > 0 {
				msg += fmt.Sprintf(" (found %s)", strings.Join(claimed, ", "))
			}
			c.is.add(root, SeverityError, CodeBusinessRule, msg)
		}
	}
	c.resource(root, nil)
}

func metaProfiles(n *node) []string {
	var out []string
	if m := n.child("meta"); m != nil {
		for _, p := range m.childrenNamed("profile") {
			if p.hasValue {
				out = append(out, p.value)
			}
		}
	}
	return out
}

// resource validates a resource node against the profiles that apply: those its meta.profile
// claims, those the referring element's type demands (via), or else its base definition.
func (c *vctx) resource(n *node, via *elemDef) {
	if c.v.types[n.typ] == nil {
		return // unknown resource type, already reported
	}
	var profs []*profile
	seen := map[*profile]bool{}
	addProf := func(p *profile) {
		if p != nil && !seen[p] {
			seen[p] = true
			profs = append(profs, p)
		}
	}
	var from *Package
	if via != nil {
		from = via.prof.pkg
		var choices []*profile
		var urls []string
		for _, tr := range via.types {
			if tr.code != n.typ {
				continue
			}
			for _, u := range tr.profiles {
				urls = append(urls, u)
				p, err := c.v.profileByURL(u, from)
				if err != nil {
					c.is.add(n, SeverityError, CodeProcessing, fmt.Sprintf("Unable to locate the profile '%s' in order to validate against it", u))
					continue
				}
				choices = append(choices, p)
			}
		}
		switch {
		case len(choices) == 1:
			addProf(choices[0])
		case len(choices) > 1:
			matched := false
			for _, p := range choices {
				if c.conforms(n, p) {
					addProf(p)
					matched = true
					break
				}
			}
			if !matched {
				c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Unable to find a match for the specified profile among choices: %s", strings.Join(urls, ", ")))
			}
		}
	}
	for _, u := range metaProfiles(n) {
		p, err := c.v.profileByURL(u, from)
		if err != nil {
			c.is.add(n, SeverityError, CodeProcessing, fmt.Sprintf("Profile reference '%s' has not been checked because it is unknown", u))
			continue
		}
		if p.sd.Type != n.typ {
			c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Specified profile type was '%s' in profile '%s', but found type '%s'", p.sd.Type, u, n.typ))
			continue
		}
		addProf(p)
	}
	if len(profs) == 0 {
		addProf(c.v.baseProfile(n.typ))
	}
	for _, p := range profs {
		c.element(n, p.root)
	}
}

// maxValidationDepth bounds the recursion of element (nodes within nodes, profiles within
// profiles); JSON itself is limited to maxJSONDepth levels.
const maxValidationDepth = 4 * maxJSONDepth

// element validates node n against element definition d (and, below it, the children).
func (c *vctx) element(n *node, d *elemDef) {
	if c.depth++; c.depth > maxValidationDepth {
		c.depth--
		c.is.add(n, SeverityError, CodeTooLong, fmt.Sprintf("Validation stopped at %s: elements and profiles nest deeper than %d levels", n.location(), maxValidationDepth))
		return
	}
	defer func() { c.depth-- }()
	p := d.prof
	if len(d.types) > 0 && !d.allowsType(n.typ) && !(n.resource && d == p.root) {
		c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("The type '%s' is not valid here - must be one of %s (from %s)", n.typ, strings.Join(d.typeCodes(), ", "), p.url))
		return
	}
	if d.fixed != nil {
		c.fixedValue(n, d.fixed, false, d)
	}
	if d.pattern != nil {
		c.fixedValue(n, d.pattern, true, d)
	}
	if d.ed.MaxLength > 0 && n.hasValue && len([]rune(n.value)) > d.ed.MaxLength {
		c.is.add(n, SeverityError, CodeValue, fmt.Sprintf("value is longer than permitted maximum length of %d", d.ed.MaxLength))
	}
	c.valueBounds(n, d)
	if d.binding != nil && d.binding.ValueSet != "" {
		c.binding(n, d)
	}
	c.invariants(n, d)
	switch n.typ {
	case "Reference":
		c.reference(n, d)
	case "Attachment":
		c.attachment(n)
	}
	if n.resource && d != p.root {
		c.resource(n, d) // Bundle.entry.resource, contained…: validated as a resource
		return
	}
	if !n.resource && !isPrimitive(n.typ) {
		c.typeInvariants(n)
	}
	// Profiles on the type (Identifier → dk-core-cpr-identifier, Extension → its definition).
	if n.typ == "Extension" && d != p.root {
		if c.extension(n, d) {
			c.children(n, d.children)
			return
		}
	} else if tr := d.typeRef(n.typ); tr != nil && len(tr.profiles) > 0 && d != p.root {
		if c.typeProfiles(n, d, tr) {
			if len(d.children) > 0 {
				c.children(n, d.children)
			}
			return
		}
	}
	switch {
	case len(d.children) > 0:
		c.children(n, d.children)
	case d.content != "":
		if t := findElemByID(p.root, d.content); t != nil {
			c.children(n, t.children)
		}
	case len(n.children) > 0 && d != p.root:
		if bp := c.v.baseProfile(n.typ); bp != nil {
			c.children(n, bp.root.children)
		}
	}
}

func (d *elemDef) typeRef(t string) *typeRef {
	for i := range d.types {
		if d.types[i].code == t {
			return &d.types[i]
		}
	}
	return nil
}

func findElemByID(root *elemDef, id string) *elemDef {
	if root.id == id || root.ed.Path == id {
		return root
	}
	for _, c := range root.children {
		if strings.HasPrefix(id, c.id) || strings.HasPrefix(id, c.ed.Path) {
			if f := findElemByID(c, id); f != nil {
				return f
			}
		}
	}
	return nil
}

// typeProfiles validates n against the profiles its type names (any one of them must fit).
// It returns false when none could be resolved, so the caller falls back to the base type.
func (c *vctx) typeProfiles(n *node, d *elemDef, tr *typeRef) bool {
	var choices []*profile
	for _, u := range tr.profiles {
		p, err := c.v.profileByURL(u, d.prof.pkg)
		if err != nil {
			c.is.add(n, SeverityWarning, CodeProcessing, fmt.Sprintf("Unable to locate the profile '%s' in order to validate against it", u))
			continue
		}
		choices = append(choices, p)
	}
	if len(choices) == 0 {
		return false
	}
	if len(choices) == 1 {
		c.element(n, choices[0].root)
		return true
	}
	for _, p := range choices {
		if c.conforms(n, p) {
			c.element(n, p.root)
			return true
		}
	}
	c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Unable to find a match for the specified profile among choices: %s", strings.Join(tr.profiles, ", ")))
	return true
}

// children validates the children of n against the child definitions defs: cardinality,
// slicing, then each child against its definition.
func (c *vctx) children(n *node, defs []*elemDef) {
	for _, d := range defs {
		var matched []*node
		for _, ch := range n.children {
			if ch.name == d.name {
				matched = append(matched, ch)
			}
		}
		if d.slicing != nil && len(d.slices) > 0 {
			c.sliced(n, d, matched)
			continue
		}
		c.cardinality(n, d, len(matched))
		for _, m := range matched {
			c.element(m, d)
		}
	}
}

func (c *vctx) cardinality(n *node, d *elemDef, count int) {
	if count < d.min {
		c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("%s: minimum required = %d, but only found %d (from %s)", d.id, d.min, count, d.prof.url))
	}
	if d.max >= 0 && count > d.max {
		c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("%s: max allowed = %d, but found %d (from %s)", d.id, d.max, count, d.prof.url))
	}
}

// conforms tells whether n is valid against p, without reporting anything (cached; a cycle
// of references counts as conforming while it is being checked).
func (c *vctx) conforms(n *node, p *profile) bool {
	k := confKey{n: n, p: p, isolated: c.isolated > 0}
	switch c.conform[k] {
	case 1, 2:
		return true
	case -1:
		return false
	}
	c.conform[k] = 2
	saved, savedInv, savedType := c.is, c.invDone, c.typeInvDone
	c.is = &issues{mute: 1}
	c.invDone, c.typeInvDone = map[invKey]bool{}, map[*node]bool{}
	c.element(n, p.root)
	ok := c.is.errs == 0
	c.is, c.invDone, c.typeInvDone = saved, savedInv, savedType
	if ok {
		c.conform[k] = 1
	} else {
		c.conform[k] = -1
	}
	return ok
}

// conformsTo implements FHIRPath conformsTo(url). The HL7 validator checks the resource as a
// root of its own (a new node stack): the targets of its references are not validated, so a
// Bundle's invariant on its entries' profiles is not decided by what they refer to.
func (c *vctx) conformsTo(n *node, url string, from *Package) (bool, error) {
	p, err := c.v.profileByURL(url, from)
	if err != nil {
		return false, fmt.Errorf("conformsTo('%s'): %w", url, errNotChecked)
	}
	if p.sd.Type != n.typ {
		return false, nil
	}
	c.isolated++
	defer func() { c.isolated-- }()
	return c.conforms(n, p), nil
}

// HasProfile reports whether a profile URL is known (core or a loaded package), so a
// configuration naming an unknown profile is refused at load time.
func (v *Validator) HasProfile(url string) bool {
	return v.reg.structure(url, nil) != nil
}

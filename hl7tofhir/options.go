package hl7tofhir

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// NHSNumberSystem is the FHIR identifier system for the NHS number.
const NHSNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

// Options are a site's settings. The zero value of each field means its
// default (see DefaultOptions); Systems and CodeSystems add to the defaults.
type Options struct {
	// Systems maps an assigning authority to an identifier system URI. The
	// key is the authority's namespace ID or universal ID (HD-1 or HD-2 of
	// CX-4, XCN-9, XON-6), optionally with the identifier type code (CX-5,
	// XCN-13, XON-7) after a ^, matched case-insensitively: "RX1^MR" ->
	// "https://trust.example.nhs.uk/Id/mrn" names the trust's MRNs without
	// claiming its visit numbers.
	Systems map[string]string

	// NHSNumberSystem is the system of identifiers with type code NH or
	// assigning authority NHS.
	NHSNumberSystem string

	// DefaultSystem is the system for an authority not in Systems that is
	// not an OID, UUID or URI: "{authority}" is replaced by the authority and
	// "{type}" by the lowercased type code (or removed, with the character
	// before it, when there is none), both URL-escaped. Identifiers with no
	// authority get no system.
	DefaultSystem string

	// OrganizationSystem is the system of organisation codes sent with no
	// assigning authority, e.g. a GP practice's ODS code in PD1-3.
	OrganizationSystem string

	// PatientID chooses the Patient's logical id from PID-3 (or, for the
	// merged-away patient, MRG-1). Returning "" falls back to the default
	// rule: the NHS number when there is one, else an id derived from the
	// first identifier's system and value.
	PatientID func(ids []Identifier) string

	// TimeZone is the sender's zone, for v2 times sent without an offset.
	TimeZone *time.Location

	// BaseURL, when set (e.g. "https://fhir.example.org/R4"), makes entry
	// fullUrls BaseURL/Type/id; otherwise they are urn:uuid: URIs.
	BaseURL string

	// IDNamespace seeds the name-based UUIDs used as resource ids; sites that
	// share a FHIR server should use different namespaces.
	IDNamespace string

	// CodeSystems maps a v2 coding system name (CWE-3, HL7 table 0396) to a
	// FHIR code system URI, e.g. "LOCALLAB" -> "https://trust.example/lab-codes".
	CodeSystems map[string]string
}

// Identifier is a converted identifier, as passed to Options.PatientID.
type Identifier struct {
	System    string // resolved system URI, "" if none
	Value     string
	Type      string // CX-5 identifier type code, e.g. "NH", "MR"
	Authority string // CX-4 namespace ID
}

// DefaultOptions are the defaults: NHS number, GMC, GMP and ODS systems for
// the authorities NHS, GMC, GMP and ODS, an urn: template for other
// authorities, UTC and urn:uuid fullUrls.
func DefaultOptions() Options {
	return Options{
		Systems: map[string]string{
			"NHS": NHSNumberSystem,
			"GMC": "https://fhir.hl7.org.uk/Id/gmc-number",
			"GMP": "https://fhir.hl7.org.uk/Id/gmp-number",
			"NMC": "https://fhir.hl7.org.uk/Id/nmc-number",
			"ODS": "https://fhir.nhs.uk/Id/ods-organization-code",
		},
		NHSNumberSystem:    NHSNumberSystem,
		DefaultSystem:      "urn:junction:id:{authority}:{type}",
		OrganizationSystem: "https://fhir.nhs.uk/Id/ods-organization-code",
		TimeZone:           time.UTC,
		IDNamespace:        "junction",
	}
}

// withDefaults fills the zero fields of o from DefaultOptions and checks it.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	systems := map[string]string{}
	for k, v := range d.Systems {
		systems[strings.ToUpper(k)] = v
	}
	for k, v := range o.Systems {
		if v == "" {
			return o, fmt.Errorf("hl7tofhir: Options.Systems[%q] is empty; expected a system URI", k)
		}
		systems[strings.ToUpper(k)] = v
	}
	o.Systems = systems
	codes := map[string]string{}
	for k, v := range o.CodeSystems {
		codes[strings.ToUpper(k)] = v
	}
	o.CodeSystems = codes
	if o.NHSNumberSystem == "" {
		o.NHSNumberSystem = d.NHSNumberSystem
	}
	o.Systems["NHS"] = o.NHSNumberSystem
	if o.DefaultSystem == "" {
		o.DefaultSystem = d.DefaultSystem
	}
	if !strings.Contains(o.DefaultSystem, "{authority}") {
		return o, fmt.Errorf("hl7tofhir: Options.DefaultSystem %q has no {authority} placeholder", o.DefaultSystem)
	}
	if o.OrganizationSystem == "" {
		o.OrganizationSystem = d.OrganizationSystem
	}
	if o.TimeZone == nil {
		o.TimeZone = d.TimeZone
	}
	if o.IDNamespace == "" {
		o.IDNamespace = d.IDNamespace
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || !u.IsAbs() {
			return o, fmt.Errorf("hl7tofhir: Options.BaseURL %q is not an absolute URL (expected e.g. https://fhir.example.org/R4)", o.BaseURL)
		}
		o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	}
	return o, nil
}

package fhirstore

import "strings"

// resourceTypes are the resource types of FHIR R4 (4.0.1). The store takes and serves
// these only, so a misspelt type in a Bundle or a URL is an error naming it, not a
// resource nobody will ever find.
var resourceTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(`
	Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment
	AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure
	Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
	ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication
	CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent
	Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue
	Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport
	DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint
	EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
	EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
	GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
	ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan
	Invoice Library Linkage List Location Measure MeasureReport Media Medication
	MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest
	MedicationStatement MedicinalProduct MedicinalProductAuthorization
	MedicinalProductContraindication MedicinalProductIndication MedicinalProductIngredient
	MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged
	MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition
	MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
	ObservationDefinition OperationDefinition OperationOutcome Organization
	OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
	PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
	QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
	ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
	RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
	SpecimenDefinition StructureDefinition StructureMap Subscription Substance
	SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
	SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
	TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
	VisionPrescription`) {
		m[t] = true
	}
	return m
}()

func isResourceType(t string) bool { return resourceTypes[t] }

// validID checks a logical id: 1 to 64 of A-Z, a-z, 0-9, '-' and '.' (FHIR R4 id).
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

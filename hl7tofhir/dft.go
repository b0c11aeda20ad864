package hl7tofhir

// DFT^P03 (post detail financial transaction): PID and PV1 as in ADT, each
// FT1 a ChargeItem (ft1.go) on the patient's Account (PID-18, see bar.go),
// PR1 in an FT1's group a Procedure that the ChargeItem names as its
// service, DG1 Conditions, GT1 guarantors and IN1/IN2 Coverages as in BAR.
// The IG has no DFT message map. ORC/OBR in a FINANCIAL group are not
// mapped (convert.go maps OBR in ORU only).

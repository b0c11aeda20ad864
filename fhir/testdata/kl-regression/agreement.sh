#!/bin/sh
# Prints, per suite, how many cases Junction agrees with the HL7 reference validator on
# (agree / total), for docs/fhir.md. Run from the repository root.
go test ./fhir/ -count=1 -v -run 'TestKLExamples|TestKLRegression|TestRegeneratedKLSnapshots' 2>&1 |
	grep -E ': [0-9]+ ?/ ?[0-9]+ (instances )?agree' | sed 's/^ *[a-z_]*\.go:[0-9]*: //'

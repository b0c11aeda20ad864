package fhir

import (
	"encoding/json"
	"testing"
)

func TestOutcomeJSON(t *testing.T) {
	oo := NewOutcome(Issue{Severity: SeverityError, Code: CodeProcessing, Diagnostics: `DUPLICATE_ENTITY: Entity with id 'Bundle/1' already exists`})
	var back map[string]any
	if err := json.Unmarshal(oo.JSON(), &back); err != nil {
		t.Fatal(err)
	}
	if back["resourceType"] != "OperationOutcome" || back["id"] == "" {
		t.Fatalf("outcome = %s", oo.JSON())
	}
	issue := back["issue"].([]any)[0].(map[string]any)
	if issue["severity"] != "error" || issue["code"] != "processing" || issue["diagnostics"] != "DUPLICATE_ENTITY: Entity with id 'Bundle/1' already exists" {
		t.Fatalf("issue = %v", issue)
	}
	if _, has := issue["location"]; has {
		t.Error("empty location must be left out")
	}
	if !oo.HasError() || NewOutcome(Issue{Severity: SeverityInformation}).HasError() {
		t.Error("HasError")
	}
}

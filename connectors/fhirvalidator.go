package connectors

import (
	"fmt"
	"strings"
	"sync"

	"junction/fhir"
)

// Validators are costly to build (every profile's element tree, expansions): channels
// naming the same packages share one, and a package file is read once.
var (
	validatorsMu sync.Mutex
	validators   = map[string]*fhir.Validator{}
	packages     = map[string]*fhir.Package{}
)

// fhirValidator returns the validator for FHIR R4 plus the packages at paths.
func fhirValidator(paths []string) (*fhir.Validator, error) {
	validatorsMu.Lock()
	defer validatorsMu.Unlock()
	key := strings.Join(paths, "\x00")
	if v, ok := validators[key]; ok {
		return v, nil
	}
	pkgs := make([]*fhir.Package, 0, len(paths))
	for _, p := range paths {
		pkg, ok := packages[p]
		if !ok {
			var err error
			if pkg, err = fhir.LoadPackage(p); err != nil {
				return nil, fmt.Errorf("FHIR package %s: %w", p, err)
			}
			packages[p] = pkg
		}
		pkgs = append(pkgs, pkg)
	}
	v, err := fhir.NewValidator(pkgs...)
	if err != nil {
		return nil, err
	}
	validators[key] = v
	return v, nil
}

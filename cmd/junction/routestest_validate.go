package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"junction/engine"
	"junction/fhir"
)

// A fhir-bundle source validates each Bundle against its channel's profiles and packages
// before the channel runs, and refuses (422, logged as ERROR) one that does not conform.
// `junction test` does the same before Channel.DryRun, reading the profiles and packages
// from the channel's routes.yaml text, so that a case may expect a validation error.

// sourceCheck is a source's own check of a message before its channel runs; nil error:
// the message goes on.
type sourceCheck func(body []byte) error

// testValidators caches one validator per list of packages for the run.
var testValidators = map[string]*fhir.Validator{}

// sourceCheckOf returns the check of ch's source (nil when its source has none).
func sourceCheckOf(eng *engine.Engine, ch *engine.Channel) (sourceCheck, error) {
	if ch.SourceType != "fhir-bundle" {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(ch.Section), &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("channel %s: cannot read its source: %v", ch.Name, err)
	}
	var cfg struct {
		Source struct {
			Profiles []string `yaml:"profiles"`
			Packages []string `yaml:"packages"`
		} `yaml:"source"`
	}
	y := doc.Content[0]
	if y.Kind == yaml.SequenceNode && len(y.Content) > 0 {
		y = y.Content[0] // the section is a list item: "- name: …"
	}
	if err := y.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("channel %s: cannot read its source: %v", ch.Name, err)
	}
	paths := cfg.Source.Packages
	for i, p := range paths {
		p = os.Expand(p, envDefault) // the section is the text as written, before Load expanded it
		paths[i] = p
		if !filepath.IsAbs(p) {
			paths[i] = filepath.Join(eng.Dir, p)
		}
	}
	key := strings.Join(paths, "\x00")
	v := testValidators[key]
	if v == nil {
		pkgs := make([]*fhir.Package, 0, len(paths))
		for _, p := range paths {
			pkg, err := fhir.LoadPackage(p)
			if err != nil {
				return nil, fmt.Errorf("channel %s: FHIR package %s: %v", ch.Name, p, err)
			}
			pkgs = append(pkgs, pkg)
		}
		var err error
		if v, err = fhir.NewValidator(pkgs...); err != nil {
			return nil, fmt.Errorf("channel %s: %v", ch.Name, err)
		}
		testValidators[key] = v
	}
	profiles := cfg.Source.Profiles
	for i, p := range profiles {
		profiles[i] = os.Expand(p, envDefault)
	}
	return func(body []byte) error {
		oo, err := v.Validate(body, fhir.Options{Profiles: profiles, ProcessingCodes: true})
		if err != nil {
			return fmt.Errorf("validation could not run: %v", err)
		}
		if !oo.HasError() {
			return nil
		}
		var errs []string
		for _, i := range oo.Issue {
			if i.Severity == fhir.SeverityError || i.Severity == fhir.SeverityFatal {
				errs = append(errs, i.Diagnostics)
			}
		}
		if len(errs) > 3 {
			errs = append(errs[:3], fmt.Sprintf("and %d more", len(errs)-3))
		}
		return fmt.Errorf("refused with 422: %s", strings.Join(errs, "; "))
	}, nil
}

// envDefault resolves NAME and NAME:-default as routes.yaml's ${…} references do.
func envDefault(ref string) string {
	name, def, hasDef := strings.Cut(ref, ":-")
	if v := os.Getenv(name); v != "" || !hasDef {
		return v
	}
	return def
}

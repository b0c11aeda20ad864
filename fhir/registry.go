package fhir

import (
	"fmt"
	"sort"
	"strings"
)

// registry finds conformance resources by canonical URL. The same URL may exist in two
// loaded packages (hl7.fhir.dk.core 1.1.0 and 3.2.0 both publish
// http://hl7.dk/fhir/core/StructureDefinition/dk-core-cpr-identifier), so a lookup made on
// behalf of a definition searches that definition's own package first, then its
// dependencies, then the built-in core, and only then every package.
type registry struct {
	core     *Package
	packages []*Package              // core first, then the caller's in load order
	deps     map[*Package][]*Package // package → its dependencies, nearest first (transitive)
	sds      map[*Package]map[string]*StructureDefinition
	vss      map[*Package]map[string]*ValueSet
	css      map[*Package]map[string]*CodeSystem
	owner    map[any]*Package                // resource → the package holding it
	byType   map[string]*StructureDefinition // core type/resource name → definition
}

// Dependencies that the validator does without: their content used by the KL packages is
// built in (FHIR core) or reported as information when met (terminology, extensions).
func optionalDependency(name string) bool {
	return name == "hl7.fhir.r4.core" || strings.HasPrefix(name, "hl7.terminology") ||
		strings.HasPrefix(name, "hl7.fhir.uv.extensions") || name == "hl7.fhir.uv.phd"
}

func newRegistry(core *Package, pkgs []*Package) (*registry, error) {
	r := &registry{
		core:   core,
		deps:   map[*Package][]*Package{},
		sds:    map[*Package]map[string]*StructureDefinition{},
		vss:    map[*Package]map[string]*ValueSet{},
		css:    map[*Package]map[string]*CodeSystem{},
		owner:  map[any]*Package{},
		byType: map[string]*StructureDefinition{},
	}
	r.packages = append([]*Package{core}, pkgs...)
	for _, p := range r.packages {
		if p == nil {
			return nil, fmt.Errorf("nil *Package given to NewValidator")
		}
		sds, vss, css := map[string]*StructureDefinition{}, map[string]*ValueSet{}, map[string]*CodeSystem{}
		for _, sd := range p.structures {
			if sd.URL == "" {
				return nil, fmt.Errorf("package %s: StructureDefinition %q has no url", p.ID(), sd.ID)
			}
			sds[sd.URL] = sd
			r.owner[sd] = p
		}
		for _, vs := range p.valueSets {
			vss[vs.URL] = vs
			r.owner[vs] = p
		}
		for _, cs := range p.codeSystems {
			if cs.Content == "supplement" {
				continue // supplements add displays only; they are not the code system
			}
			css[cs.URL] = cs
			r.owner[cs] = p
		}
		r.sds[p], r.vss[p], r.css[p] = sds, vss, css
	}
	for _, sd := range core.structures {
		if sd.Derivation != "constraint" {
			r.byType[sd.Type] = sd
		}
	}
	// Dependencies by name#version among the loaded packages ("current" or "" matches any).
	for _, p := range pkgs {
		names := make([]string, 0, len(p.Dependencies))
		for n := range p.Dependencies {
			names = append(names, n)
		}
		sort.Strings(names)
		var direct []*Package
		for _, n := range names {
			if optionalDependency(n) {
				continue
			}
			d := r.findPackage(n, p.Dependencies[n])
			if d == nil {
				return nil, fmt.Errorf("package %s needs %s#%s, which is not loaded (load it with LoadPackage and pass it to NewValidator)", p.ID(), n, p.Dependencies[n])
			}
			direct = append(direct, d)
		}
		r.deps[p] = direct
	}
	for _, p := range pkgs { // make transitive, breadth first
		seen := map[*Package]bool{p: true}
		var order []*Package
		queue := append([]*Package(nil), r.deps[p]...)
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			if seen[d] {
				continue
			}
			seen[d] = true
			order = append(order, d)
			queue = append(queue, r.deps[d]...)
		}
		r.deps[p] = order
	}
	return r, nil
}

func (r *registry) findPackage(name, version string) *Package {
	var any *Package
	for _, p := range r.packages[1:] {
		if p.Name != name {
			continue
		}
		if p.Version == version {
			return p
		}
		any = p
	}
	if version == "current" || version == "" || version == "dev" {
		return any
	}
	return nil
}

// scope lists the packages to search for a lookup made on behalf of package from.
func (r *registry) scope(from *Package) []*Package {
	if from == nil || from == r.core {
		return r.packages
	}
	s := make([]*Package, 0, len(r.packages)+1)
	s = append(s, from)
	s = append(s, r.deps[from]...)
	s = append(s, r.core)
	return append(s, r.packages...) // then anything (duplicates are harmless)
}

func (r *registry) structure(url string, from *Package) *StructureDefinition {
	url = stripVersion(url)
	for _, p := range r.scope(from) {
		if sd := r.sds[p][url]; sd != nil {
			return sd
		}
	}
	// Core definitions may be named by type ("Patient") as well as by URL.
	if !strings.Contains(url, "/") {
		return r.byType[url]
	}
	return nil
}

func (r *registry) valueSet(url string, from *Package) *ValueSet {
	url = stripVersion(url)
	for _, p := range r.scope(from) {
		if vs := r.vss[p][url]; vs != nil {
			return vs
		}
	}
	return nil
}

func (r *registry) codeSystem(url string, from *Package) *CodeSystem {
	url = stripVersion(url)
	for _, p := range r.scope(from) {
		if cs := r.css[p][url]; cs != nil {
			return cs
		}
	}
	return nil
}

// coreType returns the base definition of a FHIR type or resource ("Coding", "Patient").
func (r *registry) coreType(name string) *StructureDefinition {
	return r.byType[name]
}

func (r *registry) ownerOf(x any) *Package { return r.owner[x] }

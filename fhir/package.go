package fhir

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Package is a set of conformance resources: a FHIR NPM package (.tgz or unpacked folder) or
// a folder of loose JSON files. Load it with LoadPackage and hand it to NewValidator.
type Package struct {
	Name         string            // package.json name; for loose files the folder or file name
	Version      string            // package.json version; "" for loose files
	Canonical    string            // package.json canonical base, when given
	Dependencies map[string]string // name → version, from package.json
	Source       string            // the path it was loaded from

	structures  []*StructureDefinition
	valueSets   []*ValueSet
	codeSystems []*CodeSystem
}

// ID is name#version, the way FHIR packages are named.
func (p *Package) ID() string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + "#" + p.Version
}

// StructureDefinitions lists the profiles, types and extensions the package holds.
func (p *Package) StructureDefinitions() []*StructureDefinition { return p.structures }

type packageJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Canonical    string            `json:"canonical"`
	Dependencies map[string]string `json:"dependencies"`
}

// LoadPackage reads a FHIR package: a .tgz as published, an unpacked package folder (with
// package/package.json or package.json), a folder of loose conformance JSON files, or a single
// JSON file. Files that are not StructureDefinition, ValueSet or CodeSystem are skipped.
func LoadPackage(path string) (*Package, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load FHIR package: %w", err)
	}
	p := &Package{Source: path}
	switch {
	case !st.IsDir() && (strings.HasSuffix(path, ".tgz") || strings.HasSuffix(path, ".tar.gz")):
		err = p.loadTgz(path)
	case st.IsDir():
		err = p.loadDir(path)
	default:
		p.Name = strings.TrimSuffix(filepath.Base(path), ".json")
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			err = p.addFile(filepath.Base(path), b, true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load FHIR package %s: %w", path, err)
	}
	if len(p.structures)+len(p.valueSets)+len(p.codeSystems) == 0 {
		return nil, fmt.Errorf("load FHIR package %s: no StructureDefinition, ValueSet or CodeSystem found", path)
	}
	return p, nil
}

func (p *Package) loadTgz(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("not a gzip'd tar: %w", err)
	}
	tr := tar.NewReader(zr)
	var manifest []byte
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		// Only package/*.json: package/other, package/xml, package/example are not definitions.
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(name, "package/") || strings.Count(name, "/") != 1 || !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if name == "package/package.json" {
			manifest = b
		} else {
			files[name] = b
		}
	}
	if manifest == nil {
		return errors.New("no package/package.json in the archive")
	}
	return p.fill(manifest, files)
}

func (p *Package) loadDir(dir string) error {
	for _, cand := range []string{filepath.Join(dir, "package"), dir} {
		manifest, err := os.ReadFile(filepath.Join(cand, "package.json"))
		if err != nil {
			continue
		}
		files, err := readJSONFiles(cand)
		if err != nil {
			return err
		}
		delete(files, "package.json")
		return p.fill(manifest, files)
	}
	// Loose conformance files.
	p.Name = filepath.Base(filepath.Clean(dir))
	files, err := readJSONFiles(dir)
	if err != nil {
		return err
	}
	return p.addFiles(files, false)
}

func readJSONFiles(dir string) (map[string][]byte, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files[e.Name()] = b
	}
	return files, nil
}

func (p *Package) fill(manifest []byte, files map[string][]byte) error {
	var m packageJSON
	if err := json.Unmarshal(manifest, &m); err != nil {
		return fmt.Errorf("package.json: %w", err)
	}
	if m.Name == "" {
		return errors.New("package.json has no name")
	}
	p.Name, p.Version, p.Canonical, p.Dependencies = m.Name, m.Version, m.Canonical, m.Dependencies
	return p.addFiles(files, false)
}

func (p *Package) addFiles(files map[string][]byte, strict bool) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names) // deterministic order
	for _, n := range names {
		if err := p.addFile(n, files[n], strict); err != nil {
			return err
		}
	}
	return nil
}

// addFile decodes one conformance resource. Non-conformance JSON (examples, ImplementationGuide,
// index files) is skipped unless strict (a single file named by the caller).
func (p *Package) addFile(name string, b []byte, strict bool) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		if strict {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	var err error
	switch head.ResourceType {
	case "StructureDefinition":
		sd := &StructureDefinition{}
		if err = json.Unmarshal(b, sd); err == nil {
			p.structures = append(p.structures, sd)
		}
	case "ValueSet":
		vs := &ValueSet{}
		if err = json.Unmarshal(b, vs); err == nil {
			p.valueSets = append(p.valueSets, vs)
		}
	case "CodeSystem":
		cs := &CodeSystem{}
		if err = json.Unmarshal(b, cs); err == nil {
			p.codeSystems = append(p.codeSystems, cs)
		}
	default:
		if strict {
			return fmt.Errorf("%s: resourceType %q is not StructureDefinition, ValueSet or CodeSystem", name, head.ResourceType)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

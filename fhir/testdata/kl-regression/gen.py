#!/usr/bin/env python3
"""Generates the KL regression set (fhir/testdata/kl-regression/<version>/{valid,broken}).

Run from the repository root: python3 fhir/testdata/kl-regression/gen.py

Every instance is a care delivery report Bundle built from the IG's own example report
(kl-examples/1.2.0/Bundle-TestPersonReport.json; for 1.0.4 the same report moved to the 1.0
canonicals and code systems). A valid file per profile adds entries carrying every code of the
value sets that profile binds (expanded here from the packages' ValueSets and CodeSystems); its
broken twin makes one deliberate mistake, and expected.json gives the errors the HL7 validator
reports for it (each message is a part of an error's text; their number is the error count).
"""
import copy
import json
import os
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
PKGS = os.path.join(HERE, "..", "..", "packages")
BASE = os.path.join(HERE, "..", "kl-examples", "1.2.0", "Bundle-TestPersonReport.json")

VERSIONS = {
    "1.2.0": {
        "packages": ["kl.dk.fhir.gateway#1.2.0", "kl.dk.fhir.term#2.2.0", "hl7.fhir.dk.core#3.2.0"],
        "sd": "http://fhir.kl.dk/gateway/StructureDefinition/",
        "vs": {"term": "http://fhir.kl.dk/term/ValueSet/", "gw": "http://fhir.kl.dk/gateway/ValueSet/"},
        "fsiii": "urn:oid:1.2.208.176.2.21",
        "codes": "http://fhir.kl.dk/term/CodeSystem/CareSocialCodes",
    },
    "1.0.4": {
        "packages": ["hl7.fhir.dk.kl.gateway.care#1.0.4", "dk.fhir.ig.kl.common.caresocial#0.7.0", "hl7.fhir.dk.core#1.1.0"],
        "sd": "http://gateway.kl.dk/1.0/StructureDefinition/",
        "vs": {"term": "http://kl.dk/fhir/common/caresocial/ValueSet/", "gw": "http://gateway.kl.dk/1.0/ValueSet/"},
        "fsiii": "http://kl.dk/fhir/common/caresocial/CodeSystem/FSIII",
        "codes": "http://kl.dk/fhir/common/caresocial/CodeSystem/KLCommonCareSocialCodes",
    },
}


def load_packages(names):
    vss, css = {}, {}
    for n in names:
        with tarfile.open(os.path.join(PKGS, n + ".tgz")) as tf:
            for m in tf.getmembers():
                if not m.name.endswith(".json") or "/" in m.name[len("package/"):]:
                    continue
                try:
                    r = json.load(tf.extractfile(m))
                except (ValueError, AttributeError):
                    continue
                if r.get("resourceType") == "ValueSet":
                    vss.setdefault(r["url"], r)
                elif r.get("resourceType") == "CodeSystem" and r.get("content") != "supplement":
                    css.setdefault(r["url"], r)
    return vss, css


def walk(concepts, out, parent=None):
    for c in concepts:
        out.append((c["code"], parent))
        walk(c.get("concept", []), out, c["code"])


def expand(url, vss, css):
    """Codes of a ValueSet as (system, code), in definition order."""
    vs = vss.get(url.split("|")[0])
    if vs is None:
        return []  # not in the packages (HL7 terminology): its codes are not used here
    out = []
    for inc in vs.get("compose", {}).get("include", []):
        for sub in inc.get("valueSet", []):
            out += expand(sub, vss, css)
        sys = inc.get("system")
        if not sys:
            continue
        if inc.get("concept"):
            out += [(sys, c["code"]) for c in inc["concept"]]
            continue
        flat = []
        walk(css[sys].get("concept", []), flat)
        filters = inc.get("filter", [])
        if not filters:
            out += [(sys, c) for c, _ in flat]
            continue
        for f in filters:
            assert f["op"] in ("descendent-of", "is-a"), f
            parents = {c: p for c, p in flat}
            for code, _ in flat:
                p = parents[code] if f["op"] == "descendent-of" else code
                while p is not None and p != f["value"]:
                    p = parents.get(p)
                if p == f["value"]:
                    out.append((sys, code))
    seen, uniq = set(), []
    for x in out:
        if x not in seen:
            seen.add(x)
            uniq.append(x)
    return uniq


def cc(system, code):
    return {"coding": [{"system": system, "code": code}]}


def base_bundle(version, cfg):
    """The example report, moved to the version's canonicals and code systems."""
    b = json.load(open(BASE))
    if version == "1.2.0":
        return b
    s = json.dumps(b)
    s = s.replace(VERSIONS["1.2.0"]["sd"], cfg["sd"])
    s = s.replace(VERSIONS["1.2.0"]["fsiii"], cfg["fsiii"])
    s = s.replace(VERSIONS["1.2.0"]["codes"], cfg["codes"])
    b = json.loads(s)
    for e in b["entry"]:
        r = e["resource"]
        r.pop("deceasedBoolean", None)  # Patient.deceased is 1.2.0's
        if r["resourceType"] == "CarePlan":  # no locally defined interventions in 1.0
            for a in r["activity"]:
                a["detail"]["code"]["coding"] = a["detail"]["code"]["coding"][:1]
    return b


def entry(r):
    return {"fullUrl": "https://test.fhir.dk/%s/%s" % (r["resourceType"], r["id"]), "resource": r}


def find(b, rid):
    for e in b["entry"]:
        if e["resource"]["id"] == rid:
            return e["resource"]
    raise KeyError(rid)


def with_copies(b, rid, codes, setter, prefix):
    """Adds a copy of resource rid per code, set by setter(resource, (system, code))."""
    out = copy.deepcopy(b)
    src = find(b, rid)
    for i, sc in enumerate(codes):
        r = copy.deepcopy(src)
        r["id"] = "%s-%d" % (prefix, i + 1)
        setter(r, sc)
        out["entry"].append(entry(r))
    return out


def set_code(r, sc):
    r["code"] = cc(*sc)


def set_value(r, sc):
    r["valueCodeableConcept"] = cc(*sc)


def cases(version, cfg, vss, css):
    """(name, valid bundle, broken bundle, expected error messages of the broken one)."""
    term, gw, sd = cfg["vs"]["term"], cfg["vs"]["gw"], cfg["sd"]
    full = base_bundle(version, cfg)
    # The citizens' own observations take part in their own case only, so that a disagreement
    # on them does not spill into every other case.
    b = copy.deepcopy(full)
    b["entry"] = [e for e in b["entry"] if "citizens-own" not in e["resource"]["meta"]["profile"][0]]
    ex = lambda u: expand(u, vss, css)
    out = []
    # 1.0.4's gateway-care-report-1 (entry.ofType(Observation).all(...)) is vacuously true:
    # entries are never Observations. 1.2.0's selects entry resources and does fire.
    report1 = ["gateway-care-report-1"] if version == "1.2.0" else []

    def broken(valid, change):
        x = copy.deepcopy(valid)
        change(x)
        return x

    # citizens' own observations: every performance level (C) and importance level (D)
    perf, imp = ex(term + "KLPerformanceLevelCodesFSIII"), ex(term + "KLImportanceLevelCodesFSIII")
    v = with_copies(full, "UdfoererSelvVaskeSig", perf, set_value, "udfoerelse")
    v = with_copies(v, "OpleverIkkeBegraensningerMedVaskeSig", imp, set_value, "betydning")
    out.append(("citizens-own-observation", v,
                broken(v, lambda x: set_value(find(x, "udfoerelse-1"), imp[0])),
                ["klgateway-citizen-observation-code-and-value-must-match"] + report1))
    # follow-up observations: every follow-up value
    fu = ex(term + "KLFollowUpCodesFSIII")
    v = with_copies(b, "DialyseFortsaettes", fu, set_value, "opfoelgning")
    out.append(("follow-up-observation", v,
                broken(v, lambda x: find(x, "opfoelgning-1").update(status="preliminary")),
                ["gateway-care-follow-up-1"] + report1))
    # matter of interest: every nursing and home care area
    moi = ex(gw + "FSIIICareMatterOfInterests")
    v = with_copies(b, "EgensomsorgBegraensninger", moi, set_code, "omraade")
    out.append(("matter-of-interest-observation", v,
                broken(v, lambda x: set_code(find(x, "omraade-1"), (cfg["fsiii"], "X9.9"))),
                ["X9.9"] + report1))
    # conditions: every home care condition (with each severity in turn) and nursing condition
    home, nursing = ex(term + "KLConditionCodesHomeCare"), ex(term + "KLConditionCodesNursing")
    sev = ex(term + "KLSeveritiesFSIII")

    def set_home(r, sc):
        r["code"] = cc(*sc)
        r["severity"] = cc(*sev[home.index(sc) % len(sev)])
    v = with_copies(b, "VaskeSigLetteBegraensninger", home, set_home, "hjemmepleje")
    v = with_copies(v, "ProblemerMedPersonligPleje", nursing, set_code, "sygepleje")
    out.append(("condition", v,
                broken(v, lambda x: find(x, "sygepleje-1").update(severity=cc(*sev[0]))),
                ["klgateway-severity-mandatory-in-home-care-not-allowed-in-nursing"]))
    # encounters: the care encounter's type is fixed; 1.2.0's general encounter takes every
    # encounter type and class
    v = with_copies(b, "NaesteOpfoelgningsdato", [None], lambda r, sc: None, "kontakt")
    if version == "1.2.0":
        et, cls = ex(term + "KLEncounterTypes"), ex(gw + "EncounterClassCodes")

        def general(r, sc):
            r["meta"]["profile"] = [sd + "klgateway-care-general-encounter"]
            r["type"] = [cc(*sc)]
            k = cls[et.index(sc) % len(cls)]
            r["class"] = {"system": k[0], "code": k[1]}
        v = with_copies(v, "NaesteOpfoelgningsdato", et, general, "generel-kontakt")
    msgs = ["Encounter.period: minimum required = 1, but only found 0 (from %sklgateway-care-encounter)" % sd]
    if version == "1.2.0":
        msgs.append("gateway-care-report-2")
    out.append(("encounter", v, broken(v, lambda x: find(x, "kontakt-1").pop("period")), msgs))
    # goals: every expected severity as target
    v = with_copies(b, "ForventetIngenBegraensninger", sev,
                    lambda r, sc: r["target"][0].update(detailCodeableConcept=cc(*sc)), "maal")
    out.append(("goal", v, broken(v, lambda x: find(x, "maal-1").update(lifecycleStatus="bogus")), ["bogus"]))
    # completed interventions: every care intervention
    iv = ex(gw + "FSIIICareInterventions")
    v = with_copies(b, "Saarbehandling", iv, set_code, "indsats")
    out.append(("completed-intervention", v, broken(v, lambda x: find(x, "indsats-1").pop("performedDateTime")),
                ["Procedure.performed[x]: minimum required = 1, but only found 0 (from %sklgateway-care-completed-intervention)" % sd]))
    # planned interventions: every care intervention
    v = with_copies(b, "Dialyse", iv, lambda r, sc: r["activity"][0]["detail"].update(code=cc(*sc)), "plan")
    out.append(("planned-intervention", v, broken(v, lambda x: find(x, "plan-1").pop("period")),
                ["CarePlan.period: minimum required = 1, but only found 0 (from %sklgateway-care-planned-intervention)" % sd]))
    # citizen and report
    out.append(("citizen", b, broken(b, lambda x: x["entry"][0]["resource"].pop("managingOrganization")),
                ["Patient.managingOrganization: minimum required = 1, but only found 0 (from %sklgateway-care-citizen)" % sd]))
    out.append(("delivery-report", b, broken(b, lambda x: x.pop("timestamp")),
                ["Bundle.timestamp: minimum required = 1, but only found 0 (from %sklgateway-care-delivery-report)" % sd]))
    return out


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=None if "entry" in obj else 1, ensure_ascii=False)
        f.write("\n")


def main():
    for version, cfg in VERSIONS.items():
        vss, css = load_packages(cfg["packages"])
        valid_exp, broken_exp = {}, {}
        for name, valid, bad, msgs in cases(version, cfg, vss, css):
            valid["id"], bad["id"] = name + "-valid", name + "-broken"
            write(os.path.join(HERE, version, "valid", name + ".json"), valid)
            write(os.path.join(HERE, version, "broken", name + ".json"), bad)
            valid_exp[name + ".json"] = {"errors": 0}
            broken_exp[name + ".json"] = {"errors": len(msgs), "messages": msgs}
        write(os.path.join(HERE, version, "valid", "expected.json"), valid_exp)
        write(os.path.join(HERE, version, "broken", "expected.json"), broken_exp)


if __name__ == "__main__":
    main()

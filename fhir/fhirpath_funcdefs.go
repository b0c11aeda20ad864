package fhir

// fpArity is the number of arguments a function takes (max < 0: any number).
type fpArity struct{ min, max int }

// fpFunctions are the functions the evaluator implements: FHIRPath N1, the FHIR R4
// additions, and the cheap FHIRPath 2.0 string functions. The parser refuses any other
// name, and any call with a number of arguments outside the range.
var fpFunctions = map[string]fpArity{
	// existence
	"empty": {0, 0}, "exists": {0, 1}, "all": {1, 1}, "allTrue": {0, 0}, "anyTrue": {0, 0},
	"allFalse": {0, 0}, "anyFalse": {0, 0}, "subsetOf": {1, 1}, "supersetOf": {1, 1},
	"count": {0, 0}, "distinct": {0, 0}, "isDistinct": {0, 0}, "not": {0, 0},
	// filtering and projection
	"where": {1, 1}, "select": {1, 1}, "repeat": {1, 1}, "ofType": {1, 1},
	// subsetting
	"single": {0, 0}, "first": {0, 0}, "last": {0, 0}, "tail": {0, 0}, "skip": {1, 1},
	"take": {1, 1}, "intersect": {1, 1}, "exclude": {1, 1},
	// combining
	"union": {1, 1}, "combine": {1, 1},
	// conversion
	"iif": {2, 3}, "toBoolean": {0, 0}, "convertsToBoolean": {0, 0}, "toInteger": {0, 0},
	"convertsToInteger": {0, 0}, "toDate": {0, 0}, "convertsToDate": {0, 0},
	"toDateTime": {0, 0}, "convertsToDateTime": {0, 0}, "toDecimal": {0, 0},
	"convertsToDecimal": {0, 0}, "toQuantity": {0, 1}, "convertsToQuantity": {0, 1},
	"toString": {0, 0}, "convertsToString": {0, 0}, "toTime": {0, 0}, "convertsToTime": {0, 0},
	// strings
	"indexOf": {1, 1}, "lastIndexOf": {1, 1}, "substring": {1, 2}, "startsWith": {1, 1},
	"endsWith": {1, 1}, "contains": {1, 1}, "upper": {0, 0}, "lower": {0, 0},
	"replace": {2, 2}, "matches": {1, 1}, "matchesFull": {1, 1}, "replaceMatches": {2, 2},
	"length": {0, 0}, "toChars": {0, 0}, "trim": {0, 0}, "split": {1, 1}, "join": {0, 1},
	"encode": {1, 1}, "decode": {1, 1}, "escape": {1, 1}, "unescape": {1, 1},
	// math
	"abs": {0, 0}, "ceiling": {0, 0}, "exp": {0, 0}, "floor": {0, 0}, "ln": {0, 0},
	"log": {1, 1}, "power": {1, 1}, "round": {0, 1}, "sqrt": {0, 0}, "truncate": {0, 0},
	// tree navigation
	"children": {0, 0}, "descendants": {0, 0},
	// utility
	"trace": {1, 2}, "now": {0, 0}, "timeOfDay": {0, 0}, "today": {0, 0},
	"defineVariable": {1, 2}, "precision": {0, 0}, "sort": {0, -1}, "comparable": {1, 1},
	"lowBoundary": {0, 1}, "highBoundary": {0, 1},
	// aggregates
	"aggregate": {1, 2},
	// types
	"is": {1, 1}, "as": {1, 1}, "type": {0, 0},
	// FHIR R4 additions
	"extension": {1, 1}, "hasValue": {0, 0}, "getValue": {0, 0}, "resolve": {0, 0},
	"conformsTo": {1, 1}, "memberOf": {1, 1}, "htmlChecks": {0, 0}, "htmlchecks": {0, 0},
	"elementDefinition": {0, 0}, "slice": {2, 2}, "checkModifiers": {1, -1},
	"hasExtension": {0, 1}, "subsumes": {1, 1}, "subsumedBy": {1, 1},
}

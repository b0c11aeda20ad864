package ui

import (
	"errors"
	"net/http"

	"junction/engine"
)

// reloadError is one mistake of a configuration a reload refused, as the API gives it.
type reloadError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// reload reads routes.yaml again and swaps it in (POST /api/reload; admin role): 200 with
// what changed, or 422 with every mistake (FILE:LINE) when the file has any, in which
// case nothing changed.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	rep, err := s.eng.Reload(r.Context(), actor(r))
	var ce engine.ConfigErrors
	switch {
	case errors.As(err, &ce):
		list := make([]reloadError, len(ce))
		for i, e := range ce {
			list[i] = reloadError{File: e.File, Line: e.Line, Path: e.Path, Message: e.Msg}
		}
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error":  "the configuration has errors; nothing was reloaded:\n" + ce.Error(),
			"errors": list,
		})
		return
	case err != nil:
		writeError(w, http.StatusConflict, "cannot reload: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"added": nonNil(rep.Added), "removed": nonNil(rep.Removed), "changed": nonNil(rep.Changed), "unchanged": nonNil(rep.Unchanged),
		"changes": nonNil(rep.Changes), "warnings": nonNil(rep.Warnings), "errors": nonNil(rep.Errors),
	})
}

// nonNil makes an absent list an empty one in JSON.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

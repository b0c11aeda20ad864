package ui

import (
	_ "embed"
	"net/http"
)

// openapiDoc is the OpenAPI 3 description of the admin API. TestOpenAPICoversRoutes
// keeps it and the router in step.
//
//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openapiDoc)
}

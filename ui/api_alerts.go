package ui

import (
	"context"
	"net/http"
	"time"

	"junction/engine"
)

// alertView is one alert state as the API and the dashboard show it.
type alertView struct {
	engine.AlertState
	State       string `json:"state"` // firing (notified) or pending (holding, not yet for its for:)
	Condition   string `json:"condition"`
	Description string `json:"description"`
	Link        string `json:"link"` // the UI's filtered message list
}

// configuredAlert is an alert of routes.yaml.
type configuredAlert struct {
	Name        string `json:"name"`
	Condition   string `json:"condition"`
	Description string `json:"description"`
	Line        int    `json:"line"`
}

// alertViews are the stored alert states (firing first, then pending), with what the
// configuration says of their alerts.
func (s *Server) alertViews(ctx context.Context) ([]alertView, error) {
	as := s.eng.Store()
	if len(s.eng.Alerts().Alerts) == 0 {
		return nil, nil
	}
	states, err := as.AlertStates(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*engine.Alert{}
	for _, a := range s.eng.Alerts().Alerts {
		byName[a.Name] = a
	}
	var firing, pending []alertView
	now := time.Now()
	for _, st := range states {
		v := alertView{AlertState: st, State: "pending"}
		if a := byName[st.Alert]; a != nil {
			v.Condition, v.Description = a.When.Kind, a.When.Describe()
			v.Link = a.When.Link(st.Channel, st.Destination, now)
		}
		if st.Active() {
			v.State = "firing"
			firing = append(firing, v)
		} else {
			pending = append(pending, v)
		}
	}
	return append(firing, pending...), nil
}

// listAlerts answers GET /api/alerts: the alerts holding now (firing, then pending) and
// every alert routes.yaml declares.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	views, err := s.alertViews(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read the alert states: "+err.Error())
		return
	}
	conf := []configuredAlert{}
	for _, a := range s.eng.Alerts().Alerts {
		conf = append(conf, configuredAlert{Name: a.Name, Condition: a.When.Kind, Description: a.When.Describe(), Line: a.Line})
	}
	if views == nil {
		views = []alertView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": views, "configured": conf})
}

package sqlite

import (
	"context"
	"testing"
	"time"

	"junction/engine"
)

// DeliveryStates reads the deliveries of the messages asked for, by destination and
// status, without their content; a message that is not there is absent.
func TestDeliveryStatesReadsTheDeliveriesOfTheMessagesAskedFor(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	a := mustAccept(t, s, hl7Msg("adt", "D-1", "SMITH", "epr", "fhir"))
	b := mustAccept(t, s, hl7Msg("adt", "D-2", "JONES", "epr"))
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: a, Destination: "fhir", Status: engine.StatusSent, Attempts: 1, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DeliveryStates(ctx, []int64{a, b, b + 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[a]) != 2 || len(got[b]) != 1 {
		t.Fatalf("states %+v", got)
	}
	if d := got[a]; d[0].Name != "epr" || d[0].Status != engine.StatusQueued || d[1].Name != "fhir" || d[1].Status != engine.StatusSent || d[1].Attempts != 1 {
		t.Errorf("message a: %+v", d)
	}
	if none, err := s.DeliveryStates(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("no ids: %v %v", none, err)
	}
}

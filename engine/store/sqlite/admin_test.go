package sqlite

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"junction/engine"
)

func TestRemoveMessage(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	a := mustAccept(t, s, hl7Msg("adt", "C-100", "SMITH", "epr", "fhir"))
	b := mustAccept(t, s, hl7Msg("adt", "C-200", "JONES", "epr"))
	waitIndexed(t, s, b)
	if err := s.Record(ctx, []engine.AttemptResult{{MessageID: b, Destination: "epr", Status: engine.StatusSent, Attempts: 1, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}

	// a has QUEUED deliveries: refused unless forced.
	if err := s.RemoveMessage(ctx, a, false, "by alice (admin)"); !errors.Is(err, engine.ErrQueuedDeliveries) {
		t.Fatalf("remove queued: %v", err)
	}
	if _, err := s.GetMessage(ctx, a); err != nil {
		t.Fatalf("refused removal removed it: %v", err)
	}
	if err := s.RemoveMessage(ctx, b, false, "by alice (admin)"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveMessage(ctx, b, false, "again"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("second removal: %v", err)
	}
	if _, err := s.GetMessage(ctx, b); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("removed message still read: %v", err)
	}
	if ids := list(t, s, engine.MessageFilter{Text: "jones"}); len(ids) != 0 {
		t.Fatalf("removed message still found by search: %v", ids)
	}
	if err := s.RemoveMessage(ctx, a, true, "by alice (admin)"); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, q := range []string{`SELECT count(*) FROM deliveries`, `SELECT count(*) FROM contents`, `SELECT count(*) FROM messages`} {
		if err := s.rdb.QueryRow(q).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s = %d, %v", q, n, err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := st["adt"].Destinations; d["epr"] != (engine.DestinationCounts{}) || d["fhir"] != (engine.DestinationCounts{}) {
		t.Fatalf("queue counters not adjusted: %+v", d)
	}
	if st["adt"].Received != 2 {
		t.Fatalf("lifetime received %d, want 2 (kept)", st["adt"].Received)
	}
	evs, err := s.Events(ctx, "adt", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != "remove" || evs[0].MessageID != a || evs[1].MessageID != b ||
		evs[0].Detail != "by alice (admin); forced with queued deliveries to epr, fhir" {
		t.Fatalf("events %+v", evs)
	}
}

func TestTokensAndLastEvent(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	h := sha256.Sum256([]byte("secret"))
	if err := s.CreateToken(ctx, engine.APIToken{Name: "ci", Role: "operator", CreatedBy: "alice"}, h, "by alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, engine.APIToken{Name: "ci", Role: "viewer"}, sha256.Sum256([]byte("x")), ""); !errors.Is(err, engine.ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	tok, err := s.TokenByHash(ctx, h)
	if err != nil || tok.Name != "ci" || tok.Role != "operator" || tok.LastUsed != nil {
		t.Fatalf("%+v %v", tok, err)
	}
	if _, err := s.TokenByHash(ctx, sha256.Sum256([]byte("other"))); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if err := s.TouchToken(ctx, "ci", time.Now()); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Tokens(ctx)
	if err != nil || len(ts) != 1 || ts[0].LastUsed == nil || ts[0].CreatedBy != "alice" {
		t.Fatalf("%+v %v", ts, err)
	}
	if err := s.DeleteToken(ctx, "ci", "by alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteToken(ctx, "ci", "by alice"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.TokenByHash(ctx, h); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("revoked: %v", err)
	}
	ev, err := s.LastEvent(ctx, "token-revoked")
	if err != nil || ev.Detail != "by alice" {
		t.Fatalf("%+v %v", ev, err)
	}
	if _, err := s.LastEvent(ctx, "config-loaded"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("no event: %v", err)
	}
}

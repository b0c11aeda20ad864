package ui

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"junction/engine"
)

func TestAMessageWhoseContentRetentionRemovedSaysSoAndOffersNoResend(t *testing.T) {
	h := newHarness(t)
	id := h.post(hl7("ADT^A01", "RET1", "Smith", ""))
	h.waitSettled()
	p, ok := h.eng.Store().(engine.Pruner)
	if !ok {
		t.Fatal("the store cannot prune")
	}
	h.waitIndexed()
	if _, err := p.Prune(context.Background(), engine.PruneOptions{Channels: map[string]engine.Retention{"adt": {Content: time.Hour}},
		Now: time.Now().Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if m := h.message(id); !m.ContentRemoved {
		t.Fatalf("the content was not removed: %+v", m)
	}
	resp, err := http.Get(h.base + "/messages/" + itoa(id))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if !strings.Contains(page, `id="content-removed"`) || strings.Contains(page, `id="resend"`) || strings.Contains(page, `id="reprocess"`) ||
		!strings.Contains(page, "Content removed by the retention policy.") {
		t.Fatalf("the page of a message without content:\n%s", page)
	}
}

func TestTheDashboardShowsTheStoresSize(t *testing.T) {
	h := newHarness(t)
	resp, err := http.Get(h.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `· store <span id="store-size">`) || !strings.Contains(string(b), "KB</span>") && !strings.Contains(string(b), "MB</span>") {
		t.Fatalf("the dashboard does not show the store's size:\n%s", b)
	}
}

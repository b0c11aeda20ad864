package connectors

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"junction/auth"
)

// Senders without a valid token are refused from their headers, before the listener
// charges their bodies against its memory budget: connections that announce large bodies
// and never send them no longer keep an authenticated sender out.
func TestSendersWithoutATokenHoldNoneOfTheMemoryBudget(t *testing.T) {
	_, keys, _ := authKeys(t)
	eng := runRoutes(t, `store:
  path: junction.db
channels:
  - name: ed-adt
    source:
      type: ingest
      listen: 127.0.0.1:0
      domain: emergency-care
      max_body: 1MB
      limits: { max_memory: 16MB }
      auth: { issuer: "https://idp.example/realms/exchange", audience: junction, pem: [`+keys.Public+`] }
    destinations:
      - { name: archive, type: file, dir: out }
`)
	addr := eng.BoundAddr("HTTP")
	// Each would take the whole budget (16 x 1 MB) if it were charged.
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /$ingest HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nsource-domain: emergency-care\r\norganisation-code: r0d\r\ndata-type: Hl7v2\r\nContent-Length: %d\r\n\r\nMSH|", 1<<20-i)
	}
	good := "Bearer " + token(t, keys.Private, auth.TokenClaims{Organisations: []string{"r0d"}, Categories: []string{"emergency-care"}})
	for i := range 3 {
		status, _, body := post(t, "http://"+addr+"/$ingest", "POST", headers("Authorization", good), adtA01)
		if status != 200 || !strings.Contains(body, "MSA|AA|") {
			t.Fatalf("authenticated send %d: %d %q (want 200 AA while unauthenticated senders stall)", i, status, body)
		}
	}
	// A refused sender still learns which message was refused, from the head of its body.
	status, _, body := post(t, "http://"+addr+"/$ingest", "POST", headers(), adtA01)
	if status != 401 || !strings.Contains(body, "MSA|AR|8457239|") {
		t.Errorf("no token: %d %q", status, body)
	}
	if m := firstHTTP(eng).Memory(); m.Peak > 16*int64(len(adtA01))*3 {
		t.Errorf("peak charge %d: the stalled senders were charged", m.Peak)
	}
}

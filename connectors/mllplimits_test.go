package connectors

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"junction/engine"
	"junction/hl7"
)

// The limits of an MLLP listener: connections, idle time, junk, memory and messages per
// frame.

// mllpRoutesWith is mllpRoutes with more settings for its source (each line indented
// as a key of the source).
func mllpRoutesWith(settings ...string) string {
	extra := ""
	for _, s := range settings {
		extra += "      " + s + "\n"
	}
	return strings.Replace(mllpRoutes, "      auth: none\n", "      auth: none\n"+extra, 1)
}

// listenerOf is the engine's MLLP listener.
func listenerOf(t *testing.T, eng *engine.Engine) *mllpListener {
	t.Helper()
	for _, s := range eng.Services() {
		if l, ok := s.(*mllpListener); ok {
			return l
		}
	}
	t.Fatal("no MLLP listener")
	return nil
}

// openConns is the number of connections the listener holds.
func (l *mllpListener) openConns() int {
	l.ln.mu.Lock()
	defer l.ln.mu.Unlock()
	return len(l.ln.conns)
}

// pollUntil polls cond with no time limit of its own: go test's -timeout is the limit.
func pollUntil(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

// dialRawFrom opens a plain TCP connection from the loopback address ip (127.0.0.2 is
// another sender than 127.0.0.1), closed at the end of the test.
func dialRawFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// trickle writes a junk byte (never a start block) to nc until it is closed.
func trickle(nc net.Conn) {
	go func() {
		for {
			if _, err := nc.Write([]byte("?")); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
}

// untilClosed reads nc until the listener closes it.
func untilClosed(nc net.Conn) {
	buf := make([]byte, 512)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}

// A listener at max_connections, all of them silent or trickling bytes that start no
// frame, closes the longest-idle one when a sender connects: the sender's message is
// answered AA.
func TestMLLPConnectionsSendingNothingOrJunkDoNotLockOutASender(t *testing.T) {
	eng, addr, logs := startMLLP(t, mllpRoutesWith("max_connections: 2"))
	l := listenerOf(t, eng)
	silent := dialRawFrom(t, "127.0.0.1", addr)
	pollUntil(func() bool { return l.openConns() == 1 })
	junk := dialRawFrom(t, "127.0.0.1", addr)
	trickle(junk)
	pollUntil(func() bool { return l.openConns() == 2 })
	a := splitACK(t, sendMLLP(t, dialMLLP(t, addr, nil), mllpADT("LOCKOUT-1", "Smith")))
	if a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("the sender got %q, want AA", a.raw)
	}
	untilClosed(silent)
	if !strings.Contains(logs.String(), "idle connection closed to make room for a new one") {
		t.Errorf("log:\n%s", logs)
	}
}

// max_connections_per_address bounds one address's connections: its next one replaces
// its own longest-idle one, and leaves other addresses' connections alone.
func TestMLLPOneAddressHoldsAtMostItsMaxConnectionsPerAddress(t *testing.T) {
	eng, addr, _ := startMLLP(t, mllpRoutesWith("max_connections_per_address: 2"))
	l := listenerOf(t, eng)
	sender := dialMLLP(t, addr, nil)
	if a := splitACK(t, sendMLLP(t, sender, mllpADT("ADDR-1", "Smith"))); a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("answer %q", a.raw)
	}
	var other []net.Conn
	for i := range 3 {
		other = append(other, dialRawFrom(t, "127.0.0.2", addr))
		pollUntil(func() bool { return l.openConns() == 1+min(i+1, 2) })
	}
	untilClosed(other[0])
	if a := splitACK(t, sendMLLP(t, sender, mllpADT("ADDR-2", "Smith"))); a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("the other address's connection: %q, want AA", a.raw)
	}
}

// A new connection has timeouts.first_frame for its first frame to start, even when
// idle connections are otherwise kept for ever (the default); the default is 5 minutes,
// or timeouts.idle when that is shorter.
func TestMLLPANewConnectionMustStartAFrameWithinTheFirstFrameTimeout(t *testing.T) {
	_, addr, logs := startMLLP(t, mllpRoutesWith("timeouts: { first_frame: 20ms }"))
	silent := dialRawFrom(t, "127.0.0.1", addr)
	junk := dialRawFrom(t, "127.0.0.1", addr)
	trickle(junk)
	untilClosed(silent)
	untilClosed(junk)
	pollUntil(func() bool { return strings.Count(logs.String(), "no frame since it opened") == 2 })

	for _, c := range []struct {
		timeouts string
		want     time.Duration
	}{
		{"", 5 * time.Minute},
		{"timeouts: { idle: 1m }", time.Minute},
		{"timeouts: { idle: 1h }", 5 * time.Minute},
		{"timeouts: { first_frame: 0s }", 0},
	} {
		eng, err := engine.LoadBytes("routes.yaml", []byte(mllpRoutesWith(c.timeouts)))
		if err != nil {
			t.Fatal(err)
		}
		if got := listenerOf(t, eng).settings.firstFrame; got != c.want {
			t.Errorf("%q: first frame timeout %v, want %v", c.timeouts, got, c.want)
		}
	}
}

// A frame is charged 16 × its size against the listener's memory budget while it is
// processed. One that finds the budget taken for a second is answered AE for each of
// its messages (busy: send again) and nothing of it is stored; once there is room again
// the same frame is processed.
func TestMLLPAnswersAEBusyWhenTheMemoryBudgetIsTakenAndStoresNothing(t *testing.T) {
	eng, addr, logs := startMLLP(t, mllpRoutesWith("max_memory: 64KB"))
	l := listenerOf(t, eng)
	c := dialMLLP(t, addr, nil)
	frame := func(n int) string {
		return mllpADT(fmt.Sprintf("BUSY-%d", n), "Smith") + mllpADT(fmt.Sprintf("BUSY-%d", n+1), "Jones")
	}
	a := splitACK(t, sendMLLP(t, c, frame(1)))
	if a.field("MSA", 0, 1) != "AA" || a.field("MSA", 1, 1) != "AA" {
		t.Fatalf("answer %q, want AA twice", a.raw)
	}
	if m := l.Memory(); m.Budget != 64<<10 || m.InUse != 0 || m.Peak != engine.MemoryFactor*int64(len(frame(1))) {
		t.Errorf("memory %+v: want a budget of 64 KB, the frame charged %d × %d bytes and given back", m, engine.MemoryFactor, len(frame(1)))
	}

	if !l.budget.Acquire(context.Background(), 64<<10) {
		t.Fatal("the test could not take the budget")
	}
	a = splitACK(t, sendMLLP(t, c, frame(3)))
	for i, cid := range []string{"BUSY-3", "BUSY-4"} {
		if a.count("MSA") != 2 || a.field("MSA", i, 1) != "AE" || a.field("MSA", i, 2) != cid || !strings.Contains(a.field("MSA", i, 3), "busy") {
			t.Errorf("ACK %d: %v, want AE for %s saying busy", i+1, a.segs, cid)
		}
	}
	if sum, err := eng.Store().ListMessages(context.Background(), engine.MessageFilter{Channel: "lab", Limit: 10}); err != nil || len(sum) != 2 {
		t.Fatalf("%d messages stored (%v), want only the first frame's 2", len(sum), err)
	}
	if m := l.Memory(); m.Refused != 1 || !strings.Contains(logs.String(), "no room in the listener's memory budget") {
		t.Errorf("memory %+v: want one refusal, logged:\n%s", m, logs)
	}
	l.budget.Release(64 << 10)
	a = splitACK(t, sendMLLP(t, c, frame(3)))
	if a.field("MSA", 0, 1) != "AA" || a.field("MSA", 1, 1) != "AA" {
		t.Fatalf("with room: %q, want AA twice", a.raw)
	}
}

// By default an MLLP listener's budget is the HTTP listeners' default, and always
// holds one frame of its largest message; a max_memory that cannot is refused at load.
func TestMLLPTheMemoryBudgetHoldsAtLeastOneFrameOfTheLargestMessage(t *testing.T) {
	for _, c := range []struct {
		size string
		want int64
	}{
		{"4KB", engine.DefaultMaxMemory},
		{"1GB", engine.MemoryFactor << 30},
	} {
		routes := strings.Replace(mllpRoutes, "max_message_bytes: 4KB", "max_message_bytes: "+c.size, 1)
		eng, err := engine.LoadBytes("routes.yaml", []byte(routes))
		if err != nil {
			t.Fatal(err)
		}
		if got := listenerOf(t, eng).settings.budget(); got != c.want {
			t.Errorf("max_message_bytes %s: budget %d, want %d", c.size, got, c.want)
		}
	}
	_, err := engine.LoadBytes("routes.yaml", []byte(mllpRoutesWith("max_memory: 32KB")))
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:10: channels[0].source.max_memory: 32 KB cannot hold one frame of max_message_bytes 4 KB") {
		t.Fatalf("got %v, want max_memory refused at its line", err)
	}
}

// A frame holding more messages than max_messages_per_frame (10,000 by default) is
// answered with one AR, to its first message, naming the limit; nothing of it is
// stored, and the connection goes on.
func TestMLLPAnswersAFrameOfTooManyMessagesARAndStoresNothing(t *testing.T) {
	routes := strings.Replace(mllpRoutes, "      max_message_bytes: 4KB\n", "", 1)
	eng, addr, _ := startMLLP(t, routes)
	var b strings.Builder
	b.WriteString("BHS|^~\\&|EPR|R0D|LAB|QVV|20240213144932||||BATCH-9\r")
	for i := range 10001 {
		fmt.Fprintf(&b, "MSH|^~\\&|EPR|R0D|LAB|QVV|20240213144932||ADT^A01|MANY-%d|P|2.4\r", i)
	}
	b.WriteString("BTS|10001\r")
	c := dialMLLP(t, addr, nil)
	a := splitACK(t, sendMLLP(t, c, b.String()))
	if a.segs[0][0] != "BHS" || a.field("BHS", 0, 12) != "BATCH-9" || a.count("MSA") != 1 {
		t.Fatalf("answer %q: want a batch answering BATCH-9 with one ACK", a.raw)
	}
	if a.field("MSA", 0, 1) != "AR" || a.field("MSA", 0, 2) != "MANY-0" || !strings.Contains(a.field("MSA", 0, 3), "more than 10000 messages") {
		t.Fatalf("MSA %v: want AR to MANY-0 naming the limit", a.segs)
	}
	if sum, err := eng.Store().ListMessages(context.Background(), engine.MessageFilter{Channel: "lab", Limit: 10}); err != nil || len(sum) != 0 {
		t.Fatalf("%d messages stored (%v), want none", len(sum), err)
	}
	if a := splitACK(t, sendMLLP(t, c, mllpADT("AFTER-MANY", "Smith"))); a.field("MSA", 0, 1) != "AA" {
		t.Fatalf("next frame: %q, want AA", a.raw)
	}
}

// The count that max_messages_per_frame is held to is the number of messages the frame
// is split into.
func TestMLLPCountsAFramesMessagesAsTheyAreSplit(t *testing.T) {
	msh := "MSH|^~\\&|A|B|C|D|20240213144932||ADT^A01|1|P|2.4"
	for _, body := range []string{
		msh + "\rPID|1\r" + msh + "\r",
		"\xef\xbb\xbf\x0b" + msh + "\r\n" + msh + "\n\x0b" + msh + "\r",
		"FHS|^~\\&\rBHS|^~\\&\r" + msh + "\rMSHX|1\rMSH\r" + msh + "\x1c\rBTS|2\rFTS|1\r",
		"FHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|1\r",
	} {
		b, err := hl7.SplitBatch([]byte(body))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got, _ := countMessages([]byte(body), 100); got != len(b.Messages) {
			t.Errorf("%q: counted %d, split into %d", body, got, len(b.Messages))
		}
	}
	if n, first := countMessages([]byte("BHS|^~\\&\r"+msh+"\r"+msh+"\r"+msh+"\r"), 1); n != 2 || first != len("BHS|^~\\&\r") {
		t.Errorf("counted %d from %d, want 2 (the limit passed) from the first MSH", n, first)
	}
}

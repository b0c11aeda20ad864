package sqlite

import "sync"

// recentContent keeps what the queue workers need of the messages this process accepted
// recently (content, control id, data type, metadata), so that Pending reads only the
// small outbox rows from SQLite and not the content it wrote a moment before.
//
// A hit is always right: the entry is a copy of what was committed, and none of it ever
// changes (content edited for a resend lives in deliveries.content, which Pending checks).
// A miss — a message accepted by another node sharing the store, a backlog older than the
// bound, anything after a restart — reads the store as before. Entries go once every
// delivery of the message is final, or first in, first out beyond the bounds.
type recentContent struct {
	mu    sync.Mutex
	byID  map[int64]*recentEntry
	order []int64 // ids in the order added; ids already removed are skipped on eviction
	head  int     // order[head:] is live
	bytes int
}

type recentEntry struct {
	controlID, dataType string
	meta                []byte // nil when none
	content             []byte
}

// The bounds: enough for the deliveries of a few seconds at full speed.
const (
	recentMaxEntries = 8192
	recentMaxBytes   = 16 << 20
)

func newRecentContent() *recentContent {
	return &recentContent{byID: map[int64]*recentEntry{}}
}

func (e *recentEntry) size() int { return len(e.content) + len(e.meta) + 64 }

// add keeps e for message id. The caller must not change e's slices afterwards.
func (c *recentContent) add(id int64, e *recentEntry) {
	if e.size() > recentMaxBytes/16 {
		return // a large message is read from the store when needed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byID[id]; ok {
		c.bytes -= old.size()
	} else {
		c.order = append(c.order, id)
	}
	c.byID[id] = e
	c.bytes += e.size()
	for len(c.byID) > recentMaxEntries || c.bytes > recentMaxBytes {
		c.evictOldest()
	}
	if len(c.order)-c.head > 2*len(c.byID)+1024 {
		// Mostly ids removed already: keep the live ones, in order.
		live := c.order[:0]
		for _, id := range c.order[c.head:] {
			if _, ok := c.byID[id]; ok {
				live = append(live, id)
			}
		}
		c.order, c.head = live, 0
	}
}

func (c *recentContent) evictOldest() {
	for c.head < len(c.order) {
		id := c.order[c.head]
		c.head++
		if e, ok := c.byID[id]; ok {
			delete(c.byID, id)
			c.bytes -= e.size()
			return
		}
	}
}

// get returns the entry of message id, or nil.
func (c *recentContent) get(id int64) *recentEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}

// remove forgets the given messages (their deliveries are final, or they were removed).
func (c *recentContent) remove(ids ...int64) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if e, ok := c.byID[id]; ok {
			delete(c.byID, id)
			c.bytes -= e.size()
		}
	}
}

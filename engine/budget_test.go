package engine

import (
	"context"
	"sync"
	"testing"
	"time"
)

func (b *Budget) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

func TestABudgetNeverGrantsMoreThanItHoldsUnderConcurrentCharges(t *testing.T) {
	b := NewBudget(100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	inUse, most := int64(0), int64(0)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(10 + i%5*20) // 10 to 90
			if !b.Acquire(context.Background(), n) {
				t.Error("a wait without a deadline ended without the charge")
				return
			}
			mu.Lock()
			inUse += n
			most = max(most, inUse)
			mu.Unlock()
			mu.Lock()
			inUse -= n
			mu.Unlock()
			b.Release(n)
		}()
	}
	wg.Wait()
	s := b.Stats()
	if most > 100 || s.Peak > 100 {
		t.Errorf("charged %d at once (the budget's own peak %d), more than the 100 it holds", most, s.Peak)
	}
	if s.InUse != 0 || b.waiting() != 0 {
		t.Errorf("after every release: in use %d, %d waiting; want 0 and 0", s.InUse, b.waiting())
	}
}

func TestALargeWaiterAtTheHeadIsNotOvertakenBySmallerOnes(t *testing.T) {
	b := NewBudget(100)
	if !b.Acquire(context.Background(), 60) {
		t.Fatal("the first charge did not fit an empty budget")
	}
	big, small := make(chan bool), make(chan bool)
	go func() { big <- b.Acquire(context.Background(), 80) }()
	for b.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	go func() { small <- b.Acquire(context.Background(), 30) }()
	for b.waiting() < 2 { // 30 would fit beside the 60, but waits its turn
		select {
		case <-small:
			t.Fatal("the small charge overtook the big one waiting ahead of it")
		default:
			time.Sleep(time.Millisecond)
		}
	}
	b.Release(60)
	if !<-big {
		t.Fatal("the big charge was not granted once there was room")
	}
	if n := b.waiting(); n != 1 {
		t.Fatalf("%d waiting after the big charge was granted, want the small one (80 + 30 > 100)", n)
	}
	b.Release(80)
	if !<-small {
		t.Fatal("the small charge was not granted")
	}
}

func TestAWaiterWhoseDeadlinePassesLeavesTheQueueAndLetsSmallerOnesIn(t *testing.T) {
	b := NewBudget(100)
	if !b.Acquire(context.Background(), 60) {
		t.Fatal("the first charge did not fit an empty budget")
	}
	ctx, cancel := context.WithCancel(context.Background())
	big := make(chan bool)
	go func() { big <- b.Acquire(ctx, 80) }()
	for b.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	small := make(chan bool)
	go func() { small <- b.Acquire(context.Background(), 30) }()
	for b.waiting() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel() // the big one gives up; the small one behind it fits beside the 60
	if <-big {
		t.Error("a cancelled wait reported the charge granted")
	}
	if !<-small {
		t.Error("the small charge was not granted once the big one left the queue")
	}
	if s := b.Stats(); s.InUse != 90 || s.Refused != 1 {
		t.Errorf("in use %d, refused %d; want 90 and 1", s.InUse, s.Refused)
	}
}

func TestTheDefaultBudgetHoldsOneRequestOfTheLargestBody(t *testing.T) {
	if got := MemoryBudget(0, 10<<20); got != DefaultMaxMemory {
		t.Errorf("default budget for 10 MB bodies: %d, want %d", got, DefaultMaxMemory)
	}
	if got := MemoryBudget(0, 1<<30); got != MemoryFactor<<30 {
		t.Errorf("default budget for 1 GB bodies: %d, want %d", got, int64(MemoryFactor)<<30)
	}
	if got := MemoryBudget(1<<20, 1<<30); got != 1<<20 {
		t.Errorf("a configured budget: %d, want it as given", got)
	}
}

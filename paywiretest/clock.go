package paywiretest

import (
	"sync"
	"time"
)

// Clock is the time of one test, shared by the store, the payment service
// and whatever else the test hands Now to (a notification worker, a
// merchant's endpoint checking signature times), so that they agree on
// what is due. It follows the wall clock until Set stops it; a stopped
// clock moves only when the test moves it. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time // zero while the clock follows the wall clock
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// Set stops the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Add moves the clock by d. A clock that follows the wall clock stops at
// the wall clock's time plus d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	if c.now.IsZero() {
		c.now = time.Now()
	}
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Run makes the clock follow the wall clock again, for a test that runs
// workers in real time.
func (c *Clock) Run() {
	c.mu.Lock()
	c.now = time.Time{}
	c.mu.Unlock()
}

package credential

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Failures counts failed authentications per key (an address, a
// merchant id, a username) in fixed windows. It remembers a bounded number of keys,
// the least recently failing forgotten first, so that an attacker
// cycling through keys cannot exhaust memory.
type Failures struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	seen   *simplelru.LRU[string, *failureWindow]
	// Now is the clock; tests set it.
	Now func() time.Time
}

type failureWindow struct {
	start time.Time
	n     int
}

// NewFailures returns counts that block a key after limit failures within
// window, until the window ends.
func NewFailures(limit int, window time.Duration) *Failures {
	seen, _ := simplelru.NewLRU[string, *failureWindow](100_000, nil) // errors only for a size <= 0
	return &Failures{limit: limit, window: window, seen: seen, Now: time.Now}
}

// Blocked returns how long key must wait, 0 if it need not.
func (f *Failures) Blocked(key string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.seen.Peek(key)
	if !ok || w.n < f.limit {
		return 0
	}
	left := w.start.Add(f.window).Sub(f.Now())
	if left <= 0 {
		return 0
	}
	return left
}

// Add counts one failure of key.
func (f *Failures) Add(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.Now()
	w, ok := f.seen.Get(key)
	if !ok || now.Sub(w.start) >= f.window {
		f.seen.Add(key, &failureWindow{start: now, n: 1})
		return
	}
	w.n++
}

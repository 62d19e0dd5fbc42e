package engine

import "context"

// Candidate compiles files as a candidate bundle to compare with the
// active one (a backtest replays stored decisions with it): it is neither
// activated nor cached, needs no signature whatever the engine's
// Verification, and its in_list reads this engine's live lists as the
// active bundle's does, so that a list entry decides as it does live.
func (e *Engine) Candidate(ctx context.Context, files Files) (*Bundle, error) {
	return compile(ctx, files, nil, &e.lists)
}

package paywire_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/paywire/paywire"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestCheckTransition(t *testing.T) {
	tests := []struct {
		from, to paywire.State
		ok       bool
		why      string // part of the message when refused
	}{
		{paywire.StateCreated, paywire.StatePending, true, ""},
		{paywire.StatePending, paywire.StateAuthorized, true, ""},
		{paywire.StateAuthorized, paywire.StateCompleted, true, ""},
		{paywire.StateCompleted, paywire.StatePartiallyRefunded, true, ""},
		{paywire.StatePartiallyRefunded, paywire.StatePartiallyRefunded, true, ""},
		{paywire.StatePartiallyRefunded, paywire.StateRefunded, true, ""},
		{paywire.StateCompleted, paywire.StateChargedBack, true, ""},
		{paywire.StateReview, paywire.StatePending, true, ""},
		{paywire.StateRefused, paywire.StateCompleted, false, "final"},
		{paywire.StateRefunded, paywire.StatePartiallyRefunded, false, "final"},
		{paywire.StateExpired, paywire.StateAuthorized, false, "final"},
		{paywire.StateCompleted, paywire.StatePending, false, "may move to partially_refunded, refunded, charged_back"},
		{paywire.StateAuthorized, paywire.StatePending, false, "cannot move to pending"},
		{paywire.StatePending, paywire.StateCreated, false, "created only once"},
		{paywire.StateCompleted, paywire.StateCompleted, false, "cannot move to completed"},
		{"", paywire.StatePending, false, "not a payment state"},
		{paywire.StatePending, "settled", false, "not a payment state"},
	}
	for _, tt := range tests {
		err := paywire.CheckTransition(tt.from, tt.to)
		if tt.ok {
			if err != nil {
				t.Errorf("%s -> %s: %v, want legal", tt.from, tt.to, err)
			}
			continue
		}
		if paywire.ErrorCode(err) != paywire.EILLEGALMOVE {
			t.Errorf("%s -> %s: code %q, want %q", tt.from, tt.to, paywire.ErrorCode(err), paywire.EILLEGALMOVE)
			continue
		}
		if !strings.Contains(paywire.ErrorMessage(err), tt.why) {
			t.Errorf("%s -> %s: message %q does not say %q", tt.from, tt.to, paywire.ErrorMessage(err), tt.why)
		}
	}
}

func TestTerminalStatesAreFinal(t *testing.T) {
	terminal := map[paywire.State]bool{
		paywire.StateRefused: true, paywire.StateCancelled: true, paywire.StateFailed: true,
		paywire.StateExpired: true, paywire.StateRefunded: true, paywire.StateChargedBack: true,
	}
	for _, from := range paywire.States {
		if from.Terminal() != terminal[from] {
			t.Errorf("%s: Terminal() = %v, want %v", from, from.Terminal(), terminal[from])
		}
		for _, to := range paywire.States {
			if terminal[from] && paywire.CheckTransition(from, to) == nil {
				t.Errorf("terminal %s may move to %s", from, to)
			}
		}
	}
	var zero paywire.State
	if zero.Valid() || zero.Terminal() {
		t.Error("the zero State must be neither valid nor terminal")
	}
}

// TestStateMachineDiagram renders the transition table as a mermaid diagram
// into docs/state-machine.md; run with -update after changing the table.
func TestStateMachineDiagram(t *testing.T) {
	var b strings.Builder
	b.WriteString(`# Payment state machine

Generated from the transition table in ` + "`state.go`" + ` by ` + "`go test -run TestStateMachineDiagram -update .`" + `.
Any move not drawn here is refused with ` + "`illegal_transition`" + `, whatever a policy says.
Terminal states (no arrow out) are final: a late or duplicate provider event never moves a payment out of them.

` + "```mermaid\nstateDiagram-v2\n")
	b.WriteString("    [*] --> created\n")
	for _, from := range paywire.States {
		for _, to := range from.Next() {
			b.WriteString("    " + string(from) + " --> " + string(to) + "\n")
		}
		if from.Terminal() {
			b.WriteString("    " + string(from) + " --> [*]\n")
		}
	}
	b.WriteString("```\n")

	const golden = "docs/state-machine.md"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != b.String() {
		t.Errorf("%s is stale; run go test -run TestStateMachineDiagram -update .\ngot:\n%s", golden, b.String())
	}
}

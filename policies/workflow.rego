# Workflow: given the payment's state and an event, the next state and the
# actions.
#
# Workflow expr rules are first match, and each rule is one move of the
# state machine: its `when` names the event type and the states it applies
# in, its effect is the decision {next_state, actions, reason}. The first
# hit's effect is the decision; no hit: the event does not apply to the
# state (no transition). Only moves the transition table of state.go allows
# are made: the rules name only such moves (the unit tests check every
# rule), and the engine refuses an illegal answer.
#
# Speed: the effect returned as the rule stores it; nothing else is read.
package paywire.workflow

default decision := {"next_state": "", "actions": [], "reason": "not_applicable"}

decision := input.hits[0].effect

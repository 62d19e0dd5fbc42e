package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// The engine is built once per process, the default bundle activated, and
// the engine shared by every request handler.
func Example() {
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		panic(err)
	}
	e := engine.New(8)
	b, err := e.Activate(context.Background(), files)
	if err != nil {
		panic(err) // a refused bundle says which file and line, and why
	}
	fmt.Println("active revision:", b.Revision)
	// Output: active revision: default-2026.11.25
}

// A risk decision for a small card payment from a known customer. The
// request carries its own time: a decision never reads the clock.
func ExampleEngine_Risk() {
	e := exampleEngine()
	d, err := e.Risk(context.Background(), engine.RiskInput{
		Request: engine.RiskRequest{
			PaymentID: "pay_1", MerchantID: "demo", Kind: "deposit", Method: "card",
			Amount: engine.Money{Minor: 1999, Currency: "EUR", Exponent: 2},
			Card:   engine.Card{Brand: "visa", BIN: "411111", Last4: "1111", Country: "DE", ExpiryMonth: 12, ExpiryYear: 2030},
			Customer: engine.Customer{ID: "cust-1", Email: "anna@example.com", EmailDomain: "example.com",
				Country: "DE", IP: "192.0.2.1", IPCountry: "DE", Language: "de"},
			BillingCountry: "DE",
			Time:           time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		},
		Features: engine.Features{CustomerAgeDays: engine.Known(400), CardAgeDays: engine.Known(300), EmailAgeDays: engine.Known(400), CustomerCount7d: engine.Known(1)},
	})
	if err != nil {
		panic(err) // only a failure to store the decision record
	}
	fmt.Println(d.Action, d.Score, d.FailedClosed)
	// Output: allow 0 false
}

// Routing returns the providers to try in order, and the experiment arm
// that chose them.
func ExampleEngine_Route() {
	e := exampleEngine()
	d, _ := e.Route(context.Background(), engine.RouteInput{Request: engine.RouteRequest{
		MerchantID: "demo", Kind: "deposit", Method: "bank_redirect",
		Amount:   engine.Money{Minor: 5000, Currency: "EUR", Exponent: 2},
		Customer: engine.RouteCustomer{ID: "cust-1", Country: "DE"},
		Time:     time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	}})
	fmt.Println(d.Providers)
	// Output: [sandbox-bank]
}

// Workflow answers what follows an event; the answer is always a move the
// state machine allows, or none.
func ExampleEngine_Workflow() {
	e := exampleEngine()
	d, _ := e.Workflow(context.Background(), engine.WorkflowInput{Request: engine.WorkflowRequest{
		State: "pending", Event: engine.WorkflowEvent{Type: "provider_declined"}, Kind: "deposit",
		Amount: engine.Money{Minor: 5000, Currency: "EUR", Exponent: 2},
		Time:   time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	}})
	fmt.Println(d.NextState, d.Actions)
	// Output: refused [notify_merchant]
}

func exampleEngine() *engine.Engine {
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		panic(err)
	}
	e := engine.New(1)
	if _, err := e.Activate(context.Background(), files); err != nil {
		panic(err)
	}
	return e
}

package sandbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
)

// A sandbox instance keeps its payments in the database it is given and
// decides card payments by their number; its pages are mounted on
// Paywire's router at the instance's path prefix.
func Example() {
	dir, _ := os.MkdirTemp("", "sandbox-example")
	defer os.RemoveAll(dir)
	sqldb, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "paywire.db")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()
	if err := sandbox.Migrate(context.Background(), db); err != nil {
		fmt.Println(err)
		return
	}

	a := sandbox.New(sandbox.Config{
		Name:          "acquirer-a",
		DB:            db,
		BaseURL:       "http://127.0.0.1:8080",
		WebhookURL:    "http://127.0.0.1:8080/listeners/acquirer-a/webhook",
		WebhookSecret: []byte("change me"),
	})
	defer a.Close()

	mux := http.NewServeMux()
	mux.Handle(a.PathPrefix(), a.Handler()) // "/sandbox/acquirer-a/", not stripped

	amount, _ := paywire.NewMoney(1234, "EUR")
	for _, number := range []string{"4242424242424242", "4000000000009995", "4000000000000119"} {
		res, _ := a.Authorize(context.Background(), adapters.AuthorizeRequest{
			PaymentID: "pay-" + number[12:], Kind: paywire.KindDeposit, Amount: amount,
			Method: "card", Card: &paywire.Card{Number: number, CVC: "123", ExpiryMonth: 12, ExpiryYear: 2099},
		})
		fmt.Println(strings.TrimSpace(number[12:] + " " + string(res.Status) + " " + res.Code))
	}
	// Output:
	// 4242 approved
	// 9995 declined insufficient_funds
	// 0119 failed processing_error
}

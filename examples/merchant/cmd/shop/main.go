// Command shop runs the demo merchant shop on its own, against a running
// Paywire:
//
//	go run ./examples/merchant/cmd/shop -paywire http://localhost:8080 \
//	    -merchant demo -secret <API secret> -signing-secret <signing secret>
//
// The merchant's allowlist must admit the shop's address.
package main

import (
	"flag"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/paywire/paywire/examples/merchant"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address the shop listens on")
	paywire := flag.String("paywire", "http://127.0.0.1:8080", "Paywire's base URL")
	id := flag.String("merchant", "demo", "merchant id")
	secret := flag.String("secret", os.Getenv("SHOP_SECRET"), "the merchant's API secret ($SHOP_SECRET)")
	signing := flag.String("signing-secret", os.Getenv("SHOP_SIGNING_SECRET"), "the merchant's signing secret ($SHOP_SIGNING_SECRET)")
	flag.Parse()
	shop := &merchant.Shop{PaywireURL: strings.TrimSuffix(*paywire, "/"), BaseURL: "http://" + *addr,
		MerchantID: *id, Secret: *secret, SigningSecret: *signing}
	slog.Info("demo shop", "url", "http://"+*addr+"/")
	if err := http.ListenAndServe(*addr, shop.Handler()); err != nil {
		slog.Error("shop stopped", "error", err)
		os.Exit(1)
	}
}

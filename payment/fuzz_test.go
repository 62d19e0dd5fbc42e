package payment_test

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// FuzzCheckMerchantURL checks arbitrary URLs against an allowlist: an
// accepted URL's path, resolved as a browser would resolve it, is under the
// path of a prefix with the same scheme and host, and nothing panics.
func FuzzCheckMerchantURL(f *testing.F) {
	for _, seed := range []string{
		"https://shop.example/pay/ok",
		"https://shop.example/pay/../admin",
		"https://shop.example/pay/%2e%2e/admin",
		"https://shop.example/pay%2f..%2fadmin",
		`https://shop.example/pay/..\admin`,
		"https://shop.example/pay//x",
		"https://shop.example:8443/back/ok?x=1#y",
		"http://localhost:8080/shop/ok",
		"http://127.0.0.1:1/x",
		"javascript:alert(1)",
		"",
	} {
		f.Add(seed)
	}
	prefixes := []string{"https://shop.example/pay/", "https://shop.example:8443/back", "http://localhost:8080/"}
	m := &paywire.Merchant{ReturnURLPrefixes: prefixes, AllowLocalhostHTTP: true}
	f.Fuzz(func(t *testing.T, raw string) {
		if payment.CheckMerchantURL(m, "url", raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, err)
		}
		resolved := path.Clean("/" + strings.ReplaceAll(u.Path, `\`, "/"))
		if strings.HasSuffix(u.Path, "/") && resolved != "/" {
			resolved += "/"
		}
		if resolved != u.Path && !(u.Path == "" && resolved == "/") {
			t.Fatalf("accepted %q, whose path %q resolves to %q", raw, u.Path, resolved)
		}
		for _, p := range prefixes {
			pu, _ := url.Parse(p)
			if !strings.EqualFold(pu.Scheme, u.Scheme) || !strings.EqualFold(pu.Hostname(), u.Hostname()) {
				continue
			}
			if pu.Path == "/" || resolved == pu.Path || strings.HasPrefix(resolved, strings.TrimSuffix(pu.Path, "/")+"/") {
				return
			}
		}
		t.Fatalf("accepted %q, whose path %q is under no prefix", raw, resolved)
	})
}

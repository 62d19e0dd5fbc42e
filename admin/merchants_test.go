package admin_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/store"
)

// merchantEnv is a back office with the merchants area, the users given
// and a merchant "shop" whose first API secret it returns.
type merchantEnv struct {
	*env
	keyed  *credential.Keyed
	secret string
}

func newMerchantEnv(t *testing.T, users map[string][]string) *merchantEnv {
	t.Helper()
	k, err := credential.NewKeyed([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	var mg *credential.Manager
	e := newEnv(t, users, func(a *admin.App, db *store.DB) {
		mg = &credential.Manager{Merchants: db, Audit: db, Keyed: k, Now: db.Now}
		a.MerchantPages = admin.MerchantPages{Merchants: db, Credentials: mg, Lists: db,
			RiskProfiles: func() ([]string, string) { return []string{"high_ticket", "standard"}, "standard" }}
	})
	issued, err := mg.CreateMerchant(t.Context(), "operator:test", &paywire.Merchant{ID: "shop", Name: "Shop",
		NotificationURL: "https://shop.example/notify", ReturnURLPrefixes: []string{"https://shop.example/return/"}})
	if err != nil {
		t.Fatal(err)
	}
	return &merchantEnv{env: e, keyed: k, secret: issued.Secret}
}

// verifies reports whether secret is a valid API secret of the merchant.
func (e *merchantEnv) verifies(merchantID, secret string) bool {
	e.t.Helper()
	cs, err := e.db.MerchantCredentials(e.t.Context(), merchantID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cs {
		if e.keyed.Verify(c.SecretHash, secret) {
			return true
		}
	}
	return false
}

func (e *merchantEnv) signedIn(name string) *browser {
	b := e.browser()
	if a := b.signIn(name, "pw-"+name); a.status != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d", name, a.status)
	}
	return b
}

func (e *merchantEnv) merchant(id string) *paywire.Merchant {
	e.t.Helper()
	m, err := e.db.Merchant(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *merchantEnv) lastAudit() paywire.AuditEntry {
	e.t.Helper()
	es, err := e.db.AuditEntries(e.t.Context(), 0, 1)
	if err != nil || len(es) != 1 {
		e.t.Fatalf("audit: %v, %v", es, err)
	}
	return es[0]
}

func find(t *testing.T, pattern, body string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in %s", pattern, body)
	}
	return html.UnescapeString(m[1])
}

// settingsForm is the settings form of a merchant page, as the browser
// would send it unchanged.
func settingsForm(t *testing.T, body string) url.Values {
	t.Helper()
	f := url.Values{"csrf": {csrfOf(t, body)}, "version": {find(t, `name="version" value="([^"]*)"`, body)},
		"name": {find(t, `name="name" value="([^"]*)"`, body)}, "notification_url": {find(t, `name="notification_url" value="([^"]*)"`, body)},
		"notification_format":     {find(t, `<option value="(soap|json)" selected>`, body)},
		"return_url_prefixes":     {find(t, `(?s)name="return_url_prefixes"[^>]*>([^<]*)</textarea>`, body)},
		"auto_capture_max_score":  {find(t, `name="auto_capture_max_score" value="([^"]*)"`, body)},
		"authorization_ttl_hours": {find(t, `name="authorization_ttl_hours" value="([^"]*)"`, body)},
		"withdrawal_approvals":    {find(t, `<option value="([012])" selected>`, body)},
	}
	for _, m := range regexp.MustCompile(`name="(method_[a-z_]+)" checked`).FindAllStringSubmatch(body, -1) {
		f.Set(m[1], "on")
	}
	return f
}

func TestCreateMerchant(t *testing.T) {
	e := newMerchantEnv(t, map[string][]string{"root": {"admin"}})
	b := e.signedIn("root")
	form := b.do("GET", "/admin/merchants/new", nil)
	if form.status != 200 || !strings.Contains(form.body, `<option value="high_ticket">`) {
		t.Fatalf("new merchant form: %d %s", form.status, form.body)
	}
	// Strict CSP: the area's style is a stylesheet of its own, nothing inline.
	head, _, _ := strings.Cut(form.body, "</head>")
	if !strings.Contains(head, `href="/admin/assets/merchants.css"`) || strings.Contains(form.body, "<script") ||
		strings.Contains(form.body, "<style") || strings.Contains(form.body, " style=") {
		t.Error("the page does not keep to the CSP's stylesheets")
	}
	if css := b.do("GET", "/admin/assets/merchants.css", nil); css.status != 200 || !strings.Contains(css.body, "section.once") {
		t.Errorf("merchants.css: %d", css.status)
	}
	csrf := csrfOf(t, form.body)
	a := b.do("POST", "/admin/merchants", url.Values{"csrf": {csrf}, "id": {"acme"}, "name": {"Acme"},
		"return_url_prefixes": {"https://acme.example/back/\r\nhttps://m.acme.example/\r\n"}, "notification_url": {"https://acme.example/hook"},
		"notification_format": {"json"}, "auto_capture": {"on"}, "auto_capture_max_score": {"30"}, "authorization_ttl_hours": {"72"},
		"risk_profile": {"high_ticket"}})
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	secret, signing := find(t, `id="api-secret">([^<]+)<`, a.body), find(t, `id="signing-secret">([^<]+)<`, a.body)
	if !e.verifies("acme", secret) {
		t.Error("the secret shown does not verify as an API credential of the merchant")
	}
	m := e.merchant("acme")
	if m.SigningSecret != signing || m.Name != "Acme" || m.NotificationFormat != "json" || len(m.ReturnURLPrefixes) != 2 ||
		!m.AutoCapture || m.AutoCaptureMaxScore != 30 || m.AuthorizationTTL != 72*time.Hour || m.RiskProfile != "high_ticket" {
		t.Errorf("stored %+v", m)
	}
	if au := e.lastAudit(); au.Action != "credential.issue" || au.Actor != "admin:root" || au.Target != "acme" {
		t.Errorf("audit %+v", au)
	}
	// Shown once: the merchant's page later shows neither secret.
	page := b.do("GET", "/admin/merchants/acme", nil)
	if page.status != 200 || strings.Contains(page.body, secret) || strings.Contains(page.body, signing) {
		t.Errorf("the merchant page shows a secret again: %d", page.status)
	}
	if list := b.do("GET", "/admin/merchants", nil); !strings.Contains(list.body, `href="/admin/merchants/acme"`) {
		t.Errorf("the list lacks the new merchant: %s", list.body)
	}

	// Bad input comes back as the form with a readable problem.
	for name, c := range map[string]struct {
		form url.Values
		want string
	}{
		"http notification URL": {url.Values{"id": {"bad1"}, "name": {"Bad"}, "notification_url": {"http://evil.example/hook"}}, "is not an https URL"},
		"prefix without slash":  {url.Values{"id": {"bad2"}, "name": {"Bad"}, "return_url_prefixes": {"https://bad.example/return"}}, "ending with /"},
		"score over 100":        {url.Values{"id": {"bad3"}, "name": {"Bad"}, "auto_capture_max_score": {"101"}}, "0 to 100"},
		"expiry in words":       {url.Values{"id": {"bad4"}, "name": {"Bad"}, "authorization_ttl_hours": {"a week"}}, "whole number of hours"},
		"unknown risk profile":  {url.Values{"id": {"bad5"}, "name": {"Bad"}, "risk_profile": {"lenient"}}, "no risk profile"},
		"long name":             {url.Values{"id": {"bad6"}, "name": {strings.Repeat("n", 201)}}, "at most 200 bytes"},
		"bad id":                {url.Values{"id": {"Bad Id"}, "name": {"Bad"}}, "Merchant id may contain only"},
		"taken id":              {url.Values{"id": {"shop"}, "name": {"Again"}}, "exists"},
	} {
		c.form.Set("csrf", csrf)
		a := b.do("POST", "/admin/merchants", c.form)
		if a.status/100 != 4 || !strings.Contains(html.UnescapeString(a.body), c.want) || !strings.Contains(a.body, `id="merchant-form"`) {
			t.Errorf("%s: %d, want the form with %q: %s", name, a.status, c.want, a.body)
		}
		if strings.Contains(a.body, "api-secret") {
			t.Errorf("%s: a secret was shown", name)
		}
	}
	if ms, _ := e.db.Merchants(t.Context()); len(ms) != 2 {
		t.Errorf("refused forms created merchants: %d merchants", len(ms))
	}
}

func TestEditMerchant(t *testing.T) {
	e := newMerchantEnv(t, map[string][]string{"root": {"admin"}, "ann": {"admin"}})
	root, ann := e.signedIn("root"), e.signedIn("ann")
	page := root.do("GET", "/admin/merchants/shop", nil)
	if page.status != 200 {
		t.Fatalf("merchant page: %d", page.status)
	}
	rootForm, annForm := settingsForm(t, page.body), settingsForm(t, ann.do("GET", "/admin/merchants/shop", nil).body)

	rootForm.Set("name", "Shop Deluxe")
	rootForm.Set("auto_capture", "on")
	rootForm.Set("auto_capture_max_score", "20")
	rootForm.Set("authorization_ttl_hours", "48")
	rootForm.Set("risk_profile", "standard")
	if rootForm.Get("method_card") != "on" || rootForm.Get("method_ewallet") != "on" {
		t.Fatalf("the form does not offer every method on: %v", rootForm)
	}
	rootForm.Del("method_ewallet") // turned off
	rootForm.Set("capture_delay_minutes", "90")
	rootForm.Set("review_ttl_hours", "12")
	if rootForm.Get("withdrawal_approvals") != "0" {
		t.Fatalf("withdrawal approvals on the form: %q", rootForm.Get("withdrawal_approvals"))
	}
	rootForm.Set("withdrawal_approvals", "2")
	rootForm.Set("return_url_prefixes", "https://shop.example/return/\nhttps://shop.example/other/")
	if a := root.do("POST", "/admin/merchants/shop", rootForm); a.status != http.StatusSeeOther || a.loc != "/admin/merchants/shop?done=saved" {
		t.Fatalf("save: %d %s", a.status, a.body)
	}
	m := e.merchant("shop")
	if m.Name != "Shop Deluxe" || !m.AutoCapture || m.AutoCaptureMaxScore != 20 || m.AuthorizationTTL != 48*time.Hour ||
		m.RiskProfile != "standard" || len(m.ReturnURLPrefixes) != 2 || m.NotificationURL != "https://shop.example/notify" ||
		m.Offers(paywire.MethodEWallet) || !m.Offers(paywire.MethodCard) || m.CaptureDelay != 90*time.Minute || m.ReviewTTL != 12*time.Hour ||
		m.WithdrawalApprovals != 2 {
		t.Fatalf("stored %+v", m)
	}
	au := e.lastAudit()
	var d struct{ Before, After map[string]any }
	if err := json.Unmarshal(au.Details, &d); err != nil || au.Action != "merchant.update" || au.Actor != "admin:root" || au.Target != "shop" ||
		d.Before["name"] != "Shop" || d.After["name"] != "Shop Deluxe" || d.Before["auto_capture"] != false || d.After["auto_capture"] != true ||
		d.After["authorization_ttl_seconds"] != float64(48*3600) || d.Before["disabled_methods"] != "[]" || d.After["disabled_methods"] != "[ewallet]" ||
		d.Before["withdrawal_approvals"] != float64(0) || d.After["withdrawal_approvals"] != float64(2) {
		t.Fatalf("audit %+v: %s", au, au.Details)
	}
	if _, ok := d.After["notification_url"]; ok {
		t.Errorf("an unchanged setting is audited: %s", au.Details)
	}

	// Ann's form was read before root's save: refused, nothing changed,
	// and she sees the current settings.
	annForm.Set("name", "Ann's name")
	a := ann.do("POST", "/admin/merchants/shop", annForm)
	if a.status != http.StatusConflict || !strings.Contains(a.body, "changed this merchant while you were editing") ||
		!strings.Contains(a.body, `value="Shop Deluxe"`) {
		t.Fatalf("a concurrent edit: %d %s", a.status, a.body)
	}
	if m := e.merchant("shop"); m.Name != "Shop Deluxe" {
		t.Fatalf("a concurrent edit changed the merchant: %+v", m)
	}

	// Bad input: the form again, as typed, with a readable problem.
	fresh := settingsForm(t, root.do("GET", "/admin/merchants/shop", nil).body)
	fresh.Set("notification_url", "https://shop.example/notify?token=x")
	fresh.Set("name", "Typed name")
	a = root.do("POST", "/admin/merchants/shop", fresh)
	if a.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(a.body), `Notification URL "https://shop.example/notify?token=x" is not an https URL`) ||
		!strings.Contains(a.body, `value="Typed name"`) {
		t.Fatalf("a URL with a query: %d %s", a.status, a.body)
	}
	fresh.Set("notification_url", "")
	fresh.Set("authorization_ttl_hours", "1000")
	if a := root.do("POST", "/admin/merchants/shop", fresh); a.status != http.StatusBadRequest || !strings.Contains(a.body, "from 1 to 744") {
		t.Fatalf("a long expiry: %d", a.status)
	}
	if m := e.merchant("shop"); m.Name != "Shop Deluxe" || m.NotificationURL == "" {
		t.Fatalf("refused forms changed the merchant: %+v", m)
	}
	// Disabling the merchant works, without a notification URL too.
	fresh.Set("authorization_ttl_hours", "48")
	fresh.Set("disabled", "on")
	if a := root.do("POST", "/admin/merchants/shop", fresh); a.status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", a.status, a.body)
	}
	if m := e.merchant("shop"); !m.Disabled || m.NotificationURL != "" || m.Name != "Typed name" {
		t.Fatalf("after disabling %+v", m)
	}
}

func TestMerchantCredentials(t *testing.T) {
	e := newMerchantEnv(t, map[string][]string{"root": {"admin"}})
	b := e.signedIn("root")
	page := b.do("GET", "/admin/merchants/shop", nil)
	csrf := csrfOf(t, page.body)
	first := find(t, `<td><code>(cred_[^<]+)</code></td>`, page.body)

	// Rotate with a day's overlap: both secrets work until then.
	if a := b.do("POST", "/admin/merchants/shop/credentials/"+first+"/rotate", url.Values{"csrf": {csrf}, "overlap_hours": {"9999"}}); a.status != http.StatusBadRequest ||
		!strings.Contains(a.body, "whole number of hours from 0 to 720") {
		t.Fatalf("a long overlap: %d %s", a.status, a.body)
	}
	a := b.do("POST", "/admin/merchants/shop/credentials/"+first+"/rotate", url.Values{"csrf": {csrf}, "overlap_hours": {"24"}})
	if a.status != http.StatusCreated {
		t.Fatalf("rotate: %d %s", a.status, a.body)
	}
	next, nextID := find(t, `id="api-secret">([^<]+)<`, a.body), find(t, `id="api-secret-id">([^<]+)<`, a.body)
	if !e.verifies("shop", next) || !e.verifies("shop", e.secret) {
		t.Fatal("during the overlap both secrets must verify")
	}
	cs, _ := e.db.MerchantCredentials(t.Context(), "shop")
	if len(cs) != 2 || cs[1].ID != first || cs[1].RevokedAt.IsZero() || cs[1].RevokedAt.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("credentials after the rotation: %+v", cs)
	}
	if au := e.lastAudit(); au.Action != "credential.rotate" || au.Actor != "admin:root" || !strings.Contains(string(au.Details), nextID) {
		t.Errorf("audit %+v", au)
	}

	// Revoke the old one at once; revoking it again is refused readably.
	if a := b.do("POST", "/admin/merchants/shop/credentials/"+first+"/revoke", url.Values{"csrf": {csrf}}); a.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	if e.verifies("shop", e.secret) || !e.verifies("shop", next) {
		t.Fatal("after revocation only the new secret verifies")
	}
	if au := e.lastAudit(); au.Action != "credential.revoke" || !strings.Contains(string(au.Details), first) {
		t.Errorf("audit %+v", au)
	}
	if a := b.do("POST", "/admin/merchants/shop/credentials/"+first+"/revoke", url.Values{"csrf": {csrf}}); a.status != http.StatusNotFound || !strings.Contains(a.body, "no such valid credential") {
		t.Errorf("revoked twice: %d", a.status)
	}

	// Issue another.
	a = b.do("POST", "/admin/merchants/shop/credentials", url.Values{"csrf": {csrf}, "label": {"reporting"}})
	if a.status != http.StatusCreated || !e.verifies("shop", find(t, `id="api-secret">([^<]+)<`, a.body)) || !strings.Contains(a.body, "reporting") {
		t.Fatalf("issue: %d", a.status)
	}
	if a := b.do("POST", "/admin/merchants/nobody/credentials", url.Values{"csrf": {csrf}}); a.status != http.StatusNotFound {
		t.Errorf("a credential for an unknown merchant: %d", a.status)
	}
}

func TestSigningSecretRotation(t *testing.T) {
	e := newMerchantEnv(t, map[string][]string{"root": {"admin"}})
	b := e.signedIn("root")
	before := e.merchant("shop")
	page := b.do("GET", "/admin/merchants/shop", nil)
	if strings.Contains(page.body, before.SigningSecret) {
		t.Fatal("the merchant page shows the signing secret")
	}
	a := b.do("POST", "/admin/merchants/shop/signing-secret/rotate", url.Values{"csrf": {csrfOf(t, page.body)}})
	if a.status != http.StatusCreated {
		t.Fatalf("rotate: %d %s", a.status, a.body)
	}
	shown := find(t, `id="signing-secret">([^<]+)<`, a.body)
	after := e.merchant("shop")
	if shown != after.SigningSecret || shown == before.SigningSecret || after.PreviousSigningSecret != before.SigningSecret {
		t.Fatalf("after the rotation %+v; shown %s", after, shown)
	}
	au := e.lastAudit()
	if au.Action != "merchant.signing_secret_rotate" || au.Actor != "admin:root" || !strings.Contains(string(au.Details), "before") ||
		strings.Contains(string(au.Details), before.SigningSecret) || strings.Contains(string(au.Details), shown) {
		t.Fatalf("audit %+v: %s", au, au.Details)
	}
	if again := b.do("GET", "/admin/merchants/shop", nil); strings.Contains(again.body, shown) || !strings.Contains(again.body, "previous secret signs") {
		t.Error("after the rotation the page shows the secret, or not the overlap")
	}
}

func TestMerchantRoles(t *testing.T) {
	e := newMerchantEnv(t, map[string][]string{"root": {"admin"}, "sue": {"support"}, "vera": {"viewer"}, "cora": {"compliance"}})
	root := e.signedIn("root")
	rootPage := root.do("GET", "/admin/merchants/shop", nil)
	before := e.merchant("shop")
	cred := find(t, `<td><code>(cred_[^<]+)</code></td>`, rootPage.body)
	if !strings.Contains(rootPage.body, `href="/admin/payments?merchant=shop"`) || !strings.Contains(rootPage.body, `href="/admin/lists"`) {
		t.Errorf("the merchant page's links: %s", rootPage.body)
	}

	for _, name := range []string{"sue", "vera"} {
		b := e.signedIn(name)
		home := b.do("GET", "/admin/", nil)
		if !strings.Contains(home.body, `href="/admin/merchants"`) || strings.Contains(home.body, `href="/admin/lists"`) {
			t.Errorf("%s's navigation: %s", name, home.body)
		}
		if a := b.do("GET", "/admin/merchants", nil); a.status != 200 || strings.Contains(a.body, "/admin/merchants/new") {
			t.Errorf("%s on the list: %d", name, a.status)
		}
		page := b.do("GET", "/admin/merchants/shop", nil)
		if page.status != 200 || strings.Contains(page.body, "Save settings") || strings.Contains(page.body, "/rotate") || !strings.Contains(page.body, "Shop") ||
			strings.Contains(page.body, `href="/admin/lists"`) {
			t.Errorf("%s on the merchant page: %d", name, page.status)
		}
		csrf := csrfOf(t, page.body)
		form := settingsForm(t, rootPage.body)
		form.Set("csrf", csrf)
		form.Set("name", "Changed by "+name)
		for path, f := range map[string]url.Values{
			"/admin/merchants/shop":                                 form,
			"/admin/merchants":                                      {"csrf": {csrf}, "id": {"x-" + name}, "name": {"X"}},
			"/admin/merchants/shop/credentials":                     {"csrf": {csrf}},
			"/admin/merchants/shop/credentials/" + cred + "/rotate": {"csrf": {csrf}, "overlap_hours": {"1"}},
			"/admin/merchants/shop/credentials/" + cred + "/revoke": {"csrf": {csrf}},
			"/admin/merchants/shop/signing-secret/rotate":           {"csrf": {csrf}},
			"/admin/lists": {"csrf": {csrf}, "list": {"blocked_emails"}, "type": {"email"}, "value": {"a@b.example"}, "reason": {"r"}},
		} {
			if a := b.do("POST", path, f); a.status != http.StatusForbidden {
				t.Errorf("%s posting %s: %d", name, path, a.status)
			}
		}
		if a := b.do("GET", "/admin/merchants/new", nil); a.status != http.StatusForbidden {
			t.Errorf("%s on the new merchant form: %d", name, a.status)
		}
	}
	after := e.merchant("shop")
	cs, _ := e.db.MerchantCredentials(t.Context(), "shop")
	if !after.UpdatedAt.Equal(before.UpdatedAt) || after.Name != before.Name || after.SigningSecret != before.SigningSecret || len(cs) != 1 || !cs[0].RevokedAt.IsZero() {
		t.Fatalf("refused posts changed the merchant: %+v, %+v", after, cs)
	}
	if ms, _ := e.db.Merchants(t.Context()); len(ms) != 1 {
		t.Fatalf("refused posts created merchants")
	}
	if ls, _ := e.db.Lists(t.Context()); len(ls) != 0 {
		t.Fatalf("refused posts added list entries")
	}

	// Compliance sees the lists but does not change them.
	cora := e.signedIn("cora")
	lists := cora.do("GET", "/admin/lists", nil)
	if lists.status != 200 || strings.Contains(lists.body, `id="add-entry"`) {
		t.Errorf("compliance on the lists: %d", lists.status)
	}

	// An administrator's post without the CSRF token changes nothing.
	form := settingsForm(t, rootPage.body)
	form.Del("csrf")
	form.Set("name", "Forged")
	if a := root.do("POST", "/admin/merchants/shop", form); a.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", a.status)
	}
	if a := root.do("POST", "/admin/merchants/shop/signing-secret/rotate", url.Values{"csrf": {csrfOf(t, rootPage.body)}}, "Sec-Fetch-Site", "cross-site"); a.status != http.StatusForbidden {
		t.Errorf("a cross-site post: %d", a.status)
	}
	if m := e.merchant("shop"); m.Name != before.Name || m.SigningSecret != before.SigningSecret {
		t.Fatalf("refused posts changed the merchant: %+v", m)
	}
}

func TestListsPages(t *testing.T) {
	e := newMerchantEnv(t, map[string][]string{"rita": {"risk_analyst"}, "cora": {"compliance"}})
	b := e.signedIn("rita")
	page := b.do("GET", "/admin/lists", nil)
	if page.status != 200 || !strings.Contains(page.body, `id="add-entry"`) {
		t.Fatalf("lists page: %d %s", page.status, page.body)
	}
	csrf := csrfOf(t, page.body)
	a := b.do("POST", "/admin/lists", url.Values{"csrf": {csrf}, "list": {"blocked_emails"}, "type": {"email"},
		"value": {" Fraud@Example.com"}, "reason": {"chargebacks"}, "expires_at": {"2099-01-01T00:00"}})
	if a.status != http.StatusSeeOther || a.loc != "/admin/lists/blocked_emails" {
		t.Fatalf("add: %d %s %s", a.status, a.loc, a.body)
	}
	au := e.lastAudit()
	if au.Action != "list.add" || au.Actor != "admin:rita" || au.Target != "blocked_emails" || !strings.Contains(string(au.Details), "fraud@example.com") ||
		!strings.Contains(string(au.Details), "2099-01-01T00:00:00Z") {
		t.Fatalf("audit %+v: %s", au, au.Details)
	}
	list := b.do("GET", "/admin/lists/blocked_emails", nil)
	if list.status != 200 || !strings.Contains(list.body, "fraud@example.com") || !strings.Contains(list.body, "chargebacks") {
		t.Fatalf("list page: %d %s", list.status, list.body)
	}
	if a := b.do("POST", "/admin/lists/blocked_emails/entries", url.Values{"csrf": {csrf}, "type": {"email"}, "value": {"second@example.com"}, "reason": {"mule"}}); a.status != http.StatusSeeOther {
		t.Fatalf("add on the list page: %d %s", a.status, a.body)
	}

	// Bad input: the form again, with what is wrong.
	for name, c := range map[string]struct {
		path string
		form url.Values
		want string
	}{
		"not an address": {"/admin/lists/blocked_emails/entries", url.Values{"type": {"email"}, "value": {"nobody"}, "reason": {"r"}}, "is not an e-mail address"},
		"no reason":      {"/admin/lists/blocked_emails/entries", url.Values{"type": {"email"}, "value": {"x@example.com"}}, "a reason is required"},
		"bad expiry":     {"/admin/lists/blocked_emails/entries", url.Values{"type": {"email"}, "value": {"x@example.com"}, "reason": {"r"}, "expires_at": {"soon"}}, "The expiry is not a date"},
		"past expiry":    {"/admin/lists/blocked_emails/entries", url.Values{"type": {"email"}, "value": {"x@example.com"}, "reason": {"r"}, "expires_at": {"2001-01-01"}}, "must be in the future"},
		"duplicate":      {"/admin/lists/blocked_emails/entries", url.Values{"type": {"email"}, "value": {"FRAUD@example.com"}, "reason": {"r"}}, "holds this value already"},
		"other type":     {"/admin/lists/blocked_emails/entries", url.Values{"type": {"ip"}, "value": {"192.0.2.1"}, "reason": {"r"}}, "holds values of type email"},
		"bad list name":  {"/admin/lists", url.Values{"list": {"Blocked Emails"}, "type": {"email"}, "value": {"x@example.com"}, "reason": {"r"}}, "lower_snake_case"},
		"unknown type":   {"/admin/lists", url.Values{"list": {"things"}, "type": {"shoe_size"}, "value": {"42"}, "reason": {"r"}}, "the type must be one of"},
	} {
		c.form.Set("csrf", csrf)
		a := b.do("POST", c.path, c.form)
		if a.status/100 != 4 || a.status == http.StatusForbidden || !strings.Contains(strings.ToLower(html.UnescapeString(a.body)), strings.ToLower(c.want)) || !strings.Contains(a.body, `id="add-entry"`) {
			t.Errorf("%s: %d, want the form with %q: %s", name, a.status, c.want, a.body)
		}
	}
	es, _ := e.db.ListEntries(t.Context(), "blocked_emails")
	if len(es) != 2 {
		t.Fatalf("entries after refused adds: %+v", es)
	}

	// Compliance sees the entries, without the forms, and cannot remove.
	cora := e.signedIn("cora")
	view := cora.do("GET", "/admin/lists/blocked_emails", nil)
	if view.status != 200 || !strings.Contains(view.body, "fraud@example.com") || strings.Contains(view.body, "/remove") {
		t.Errorf("compliance on the list: %d", view.status)
	}
	if a := cora.do("POST", "/admin/lists/blocked_emails/entries/"+es[0].ID+"/remove", url.Values{"csrf": {csrfOf(t, view.body)}}); a.status != http.StatusForbidden {
		t.Errorf("compliance removing: %d", a.status)
	}

	// Remove, audited with the entry as it was.
	if a := b.do("POST", "/admin/lists/blocked_emails/entries/"+es[1].ID+"/remove", url.Values{"csrf": {csrf}}); a.status != http.StatusSeeOther {
		t.Fatalf("remove: %d %s", a.status, a.body)
	}
	au = e.lastAudit()
	if au.Action != "list.remove" || au.Actor != "admin:rita" || !strings.Contains(string(au.Details), es[1].Value) {
		t.Fatalf("audit %+v: %s", au, au.Details)
	}
	if a := b.do("POST", "/admin/lists/blocked_emails/entries/"+es[1].ID+"/remove", url.Values{"csrf": {csrf}}); a.status != http.StatusNotFound {
		t.Errorf("removed twice: %d", a.status)
	}
	if es, _ := e.db.ListEntries(t.Context(), "blocked_emails"); len(es) != 1 {
		t.Fatalf("entries after the removal: %+v", es)
	}
}

package admin_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	db    *store.DB
	srv   *httptest.Server
	clock *clock
}

// newEnv serves the back office over TLS (its cookies are __Host-, so
// Secure) with a real store and the users given as name: roles (each
// user's password is "pw-<name>"); configure, if given, sets the areas'
// dependencies before the app is mounted.
func newEnv(t *testing.T, users map[string][]string, configure ...func(*admin.App, *store.DB)) *env {
	t.Helper()
	db := storetest.NewSQLite(t)
	c := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	for name, roles := range users {
		hash, err := credential.Hash("pw-"+name, credential.Params{Memory: 64, Time: 1, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateAdminUser(t.Context(), &paywire.AdminUser{Username: name, PasswordHash: hash, Roles: roles}); err != nil {
			t.Fatal(err)
		}
	}
	r := chi.NewRouter()
	a := &admin.App{Users: db, Sessions: db, Audit: db, Gate: credential.NewGate(2, time.Second), Now: c.Now,
		FailuresPerAddress: 5, FailuresPerUser: 3}
	for _, f := range configure {
		f(a, db)
	}
	a.Mount(r)
	srv := httptest.NewTLSServer(r)
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, srv: srv, clock: c}
}

// browser is a client with cookies that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client() // a client of its own: the server's is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{e: e, c: &c}
}

type answer struct {
	status int
	loc    string
	body   string
	header http.Header
}

func (b *browser) do(method, path string, form url.Values, header ...string) answer {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, loc: res.Header.Get("Location"), body: string(raw), header: res.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in %s", body)
	}
	return m[1]
}

// signIn signs name in with password and returns the answer to the post.
func (b *browser) signIn(name, password string) answer {
	page := b.do("GET", "/admin/login", nil)
	return b.do("POST", "/admin/login", url.Values{"csrf": {csrfOf(b.e.t, page.body)}, "username": {name}, "password": {password}, "next": {"/admin/users"}})
}

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t, map[string][]string{"root": {"admin"}, "vera": {"viewer"}})
	b := e.browser()
	if a := b.do("GET", "/admin/users", nil); a.status != http.StatusSeeOther || !strings.HasPrefix(a.loc, "/admin/login?next=%2Fadmin%2Fusers") {
		t.Fatalf("signed out: %d %s", a.status, a.loc)
	}
	login := b.do("GET", "/admin/login", nil)
	for k, want := range map[string]string{"Content-Security-Policy": "script-src 'self'", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if !strings.Contains(login.header.Get(k), want) {
			t.Errorf("%s: %q", k, login.header.Get(k))
		}
	}
	if a := b.signIn("root", "wrong"); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong username or password") {
		t.Fatalf("wrong password: %d", a.status)
	}
	if a := b.signIn("nobody", "pw-nobody"); a.status != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", a.status)
	}
	a := b.signIn("root", "pw-root")
	if a.status != http.StatusSeeOther || a.loc != "/admin/users" {
		t.Fatalf("sign in: %d %s %s", a.status, a.loc, a.body)
	}
	users := b.do("GET", "/admin/users", nil)
	if users.status != 200 || !strings.Contains(users.body, "vera") {
		t.Fatalf("users page: %d", users.status)
	}
	csrf := csrfOf(t, users.body)

	// Idle for 15 minutes: signed out.
	e.clock.add(14 * time.Minute)
	if a := b.do("GET", "/admin/", nil); a.status != 200 {
		t.Fatalf("after 14 minutes: %d", a.status)
	}
	e.clock.add(16 * time.Minute)
	if a := b.do("GET", "/admin/", nil); a.status != http.StatusSeeOther {
		t.Fatalf("after 16 idle minutes: %d", a.status)
	}

	// Sign in again, and out: the session is gone on the server too.
	b.signIn("root", "pw-root")
	home := b.do("GET", "/admin/", nil)
	csrf = csrfOf(t, home.body)
	cookie := b.c.Jar.Cookies(mustURL(e.srv.URL + "/admin/"))
	if a := b.do("POST", "/admin/logout", url.Values{"csrf": {csrf}}); a.status != http.StatusSeeOther || a.loc != "/admin/login" {
		t.Fatalf("sign out: %d %s", a.status, a.loc)
	}
	replay := e.browser()
	replay.c.Jar.SetCookies(mustURL(e.srv.URL+"/admin/"), cookie)
	if a := replay.do("GET", "/admin/", nil); a.status != http.StatusSeeOther {
		t.Errorf("the signed-out session's cookie still opens pages: %d", a.status)
	}
	if es, _ := e.db.AuditEntries(t.Context(), 0, 10); len(es) < 3 || es[0].Action != "admin.sign_out" || es[0].Actor != "admin:root" {
		t.Errorf("audit %+v", es)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSignInLimits(t *testing.T) {
	e := newEnv(t, map[string][]string{"root": {"admin"}})
	b := e.browser()
	for range 3 {
		b.signIn("root", "wrong")
	}
	// The username is blocked for a minute, even with the right password.
	a := b.signIn("root", "pw-root")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d %q", a.status, a.header.Get("Retry-After"))
	}
	e.clock.add(61 * time.Second)
	if a := b.signIn("root", "pw-root"); a.status != http.StatusSeeOther {
		t.Fatalf("a minute later: %d", a.status)
	}
}

func TestRolesAndCSRF(t *testing.T) {
	e := newEnv(t, map[string][]string{"root": {"admin"}, "vera": {"viewer"}})
	viewer := e.browser()
	viewer.signIn("vera", "pw-vera")
	if a := viewer.do("GET", "/admin/users", nil); a.status != http.StatusForbidden {
		t.Errorf("a viewer on the users page: %d", a.status)
	}
	home := viewer.do("GET", "/admin/", nil)
	if strings.Contains(home.body, `href="/admin/users"`) {
		t.Error("a viewer's navigation links to the users page")
	}
	if a := viewer.do("POST", "/admin/users", url.Values{"csrf": {csrfOf(t, home.body)}, "username": {"eve"}, "role_admin": {"on"}}); a.status != http.StatusForbidden {
		t.Errorf("a viewer creating a user: %d", a.status)
	}

	root := e.browser()
	root.signIn("root", "pw-root")
	page := root.do("GET", "/admin/users", nil)
	csrf := csrfOf(t, page.body)
	if a := root.do("POST", "/admin/users", url.Values{"username": {"eve"}, "role_viewer": {"on"}}); a.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", a.status)
	}
	if a := root.do("POST", "/admin/users", url.Values{"csrf": {csrf + "x"}, "username": {"eve"}, "role_viewer": {"on"}}); a.status != http.StatusForbidden {
		t.Errorf("a wrong CSRF token: %d", a.status)
	}
	if a := root.do("POST", "/admin/users", url.Values{"csrf": {csrf}, "username": {"eve"}, "role_viewer": {"on"}}, "Sec-Fetch-Site", "cross-site"); a.status != http.StatusForbidden {
		t.Errorf("a cross-site post: %d", a.status)
	}
	if _, err := e.db.AdminUserByName(t.Context(), "eve"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Fatalf("a refused form created a user: %v", err)
	}

	// Create a user: the password is shown once and works.
	a := root.do("POST", "/admin/users", url.Values{"csrf": {csrf}, "username": {"sam"}, "role_support": {"on"}})
	m := regexp.MustCompile(`id="new-password">([^<]+)<`).FindStringSubmatch(a.body)
	if a.status != http.StatusCreated || m == nil {
		t.Fatalf("create: %d", a.status)
	}
	if s := e.browser().signIn("sam", m[1]); s.status != http.StatusSeeOther {
		t.Errorf("the new user's password: %d", s.status)
	}
	if a := root.do("POST", "/admin/users", url.Values{"csrf": {csrf}, "username": {"Bad Name"}, "role_support": {"on"}}); a.status != http.StatusBadRequest {
		t.Errorf("a bad username: %d", a.status)
	}

	// Disable vera: her session ends at once; the change is audited with
	// before and after.
	if a := root.do("POST", "/admin/users/vera", url.Values{"csrf": {csrf}, "role_viewer": {"on"}, "disabled": {"on"}}); a.status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", a.status, a.body)
	}
	if a := viewer.do("GET", "/admin/", nil); a.status != http.StatusSeeOther {
		t.Errorf("a disabled user's session: %d", a.status)
	}
	es, _ := e.db.AuditEntries(t.Context(), 0, 1)
	if len(es) != 1 || es[0].Action != "admin_user.update" || !strings.Contains(string(es[0].Details), `"before":{"disabled":false`) {
		t.Errorf("audit %+v", es)
	}
	// An administrator cannot lock themselves out.
	if a := root.do("POST", "/admin/users/root", url.Values{"csrf": {csrf}, "role_viewer": {"on"}}); a.status != http.StatusBadRequest {
		t.Errorf("dropping one's own admin role: %d", a.status)
	}
}

func TestSecondFactor(t *testing.T) {
	e := newEnv(t, map[string][]string{"root": {"admin"}})
	b := e.browser()
	b.signIn("root", "pw-root")
	acct := b.do("GET", "/admin/account", nil)
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(acct.body)
	if secret == nil {
		t.Fatal("no secret offered")
	}
	csrf := csrfOf(t, acct.body)
	if a := b.do("POST", "/admin/account/second-factor", url.Values{"csrf": {csrf}, "enable": {"on"}, "secret": {secret[1]}, "code": {"000000"}}); a.status != http.StatusBadRequest {
		t.Fatalf("a wrong code turned it on: %d", a.status)
	}
	code, _ := admin.TOTPCode(secret[1], e.clock.Now())
	if a := b.do("POST", "/admin/account/second-factor", url.Values{"csrf": {csrf}, "enable": {"on"}, "secret": {secret[1]}, "code": {code}}); a.status != http.StatusSeeOther {
		t.Fatalf("turn on: %d", a.status)
	}

	// Signing in now stops at the code.
	c := e.browser()
	if a := c.signIn("root", "pw-root"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.loc, "/admin/login/code") {
		t.Fatalf("password with a second factor: %d %s", a.status, a.loc)
	}
	if a := c.do("GET", "/admin/users", nil); a.status != http.StatusSeeOther || a.loc != "/admin/login/code" {
		t.Fatalf("a page before the code: %d %s", a.status, a.loc)
	}
	form := c.do("GET", "/admin/login/code", nil)
	if a := c.do("POST", "/admin/login/code", url.Values{"csrf": {csrfOf(t, form.body)}, "code": {"123456"}}); a.status != http.StatusUnauthorized {
		t.Fatalf("a wrong code: %d", a.status)
	}
	code, _ = admin.TOTPCode(secret[1], e.clock.Now())
	if a := c.do("POST", "/admin/login/code", url.Values{"csrf": {csrfOf(t, form.body)}, "code": {code}, "next": {"/admin/users"}}); a.status != http.StatusSeeOther || a.loc != "/admin/users" {
		t.Fatalf("the right code: %d %s", a.status, a.loc)
	}
	if a := c.do("GET", "/admin/users", nil); a.status != 200 {
		t.Fatalf("after the code: %d", a.status)
	}
}

func TestSafeRedirects(t *testing.T) {
	e := newEnv(t, map[string][]string{"root": {"admin"}})
	b := e.browser()
	page := b.do("GET", "/admin/login", nil)
	a := b.do("POST", "/admin/login", url.Values{"csrf": {csrfOf(t, page.body)}, "username": {"root"}, "password": {"pw-root"}, "next": {"//evil.example/admin/"}})
	if a.status != http.StatusSeeOther || a.loc != "/admin/" {
		t.Errorf("next outside the back office: %s", a.loc)
	}
	if a := b.do("GET", "/admin/nothing-here", nil); a.status != http.StatusNotFound || !strings.Contains(a.body, "no such page") {
		t.Errorf("unknown page: %d", a.status)
	}
}

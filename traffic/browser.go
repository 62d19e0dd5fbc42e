package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Step is one HTTP exchange of a flow: what was asked, how long the
// answer took, its status (0 when none came) and what went wrong.
type Step struct {
	// Name is the method and the path with its variable parts named, so
	// that exchanges of one kind group together: "POST /pay/submit",
	// "GET /sandbox/{provider}/challenge/{reference}",
	// "POST /api/v1/payments", "SOAP getRedirectData".
	Name   string
	Took   time.Duration
	Status int
	Err    error
}

// Page is where a navigation ended: a page of Paywire's (or the
// provider's) with its forms, or the merchant's page the end user was sent
// to, which is not fetched (Left).
type Page struct {
	URL    *url.URL
	Status int
	Body   []byte
	Forms  []Form
	Links  []string
	// Left is the merchant's page the end user was sent back to; nil
	// while the end user is still on Paywire's or the provider's pages.
	Left *url.URL
}

// Form returns the first form whose action's path is path (or ends with
// it), or nil.
func (p *Page) Form(path string) *Form {
	for i := range p.Forms {
		u, err := url.Parse(p.Forms[i].Action)
		if err == nil && (u.Path == path || strings.HasSuffix(u.Path, path)) {
			return &p.Forms[i]
		}
	}
	return nil
}

// Browser is an end user's browser on the hosted pages: it posts forms,
// follows redirects (303 and 302 as a GET) on Paywire's origin and stops
// at the merchant's pages, recording each exchange. It keeps no cookies:
// the hosted pages carry their state in their forms. A Browser is one end
// user's: not for concurrent use.
type Browser struct {
	// HTTP sends the requests; it must not follow redirects itself (nil is
	// a client with a 30 s timeout that does not).
	HTTP *http.Client
	// Merchant reports whether a URL is the merchant's: the navigation
	// ends there, without fetching it.
	Merchant func(*url.URL) bool
	// Steps are the exchanges made so far.
	Steps []Step
}

// maxRedirects bounds the redirects one navigation follows.
const maxRedirects = 10

var browserClient = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// Submit posts a form of page with the values given (the form's own
// values with those of set replacing theirs) and follows where it leads.
func (b *Browser) Submit(ctx context.Context, page *Page, f *Form, set url.Values) (*Page, error) {
	action, err := page.URL.Parse(f.Action)
	if err != nil {
		return nil, fmt.Errorf("form action %q: %v", f.Action, err)
	}
	if f.Method == http.MethodGet {
		action.RawQuery = f.Values(set).Encode()
		return b.Navigate(ctx, http.MethodGet, action, nil)
	}
	return b.Navigate(ctx, http.MethodPost, action, f.Values(set))
}

// Navigate asks for u (a POST of form when it is not nil) and follows the
// redirects, until a page or the merchant's page.
func (b *Browser) Navigate(ctx context.Context, method string, u *url.URL, form url.Values) (*Page, error) {
	for range maxRedirects {
		if b.Merchant != nil && b.Merchant(u) {
			return &Page{URL: u, Left: u}, nil
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
		if err != nil {
			return nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept", "text/html")
		client := b.HTTP
		if client == nil {
			client = browserClient
		}
		start := time.Now()
		res, err := client.Do(req)
		step := Step{Name: method + " " + route(u.Path)}
		if err != nil {
			step.Took, step.Err = time.Since(start), err
			b.Steps = append(b.Steps, step)
			return nil, err
		}
		raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
		res.Body.Close()
		step.Took, step.Status, step.Err = time.Since(start), res.StatusCode, err
		if err == nil && res.StatusCode >= 500 {
			step.Err = fmt.Errorf("%s %s answered %d", method, u.Path, res.StatusCode)
		}
		b.Steps = append(b.Steps, step)
		if err != nil {
			return nil, err
		}
		switch res.StatusCode {
		case http.StatusSeeOther, http.StatusFound, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			next, err := u.Parse(res.Header.Get("Location"))
			if err != nil || next.Host == "" {
				return nil, fmt.Errorf("%s %s: a redirect to %q", method, u.Path, res.Header.Get("Location"))
			}
			if next.Scheme != "http" && next.Scheme != "https" {
				return nil, fmt.Errorf("%s %s: a redirect to a %s URL", method, u.Path, next.Scheme)
			}
			if res.StatusCode != http.StatusTemporaryRedirect && res.StatusCode != http.StatusPermanentRedirect {
				method, form = http.MethodGet, nil
			}
			u = next
			continue
		}
		p := &Page{URL: u, Status: res.StatusCode, Body: raw}
		p.Forms, p.Links = readPage(raw)
		return p, nil
	}
	return nil, errors.New("too many redirects")
}

// route names the variable parts of the paths a flow visits, so that
// steps of one kind group together.
func route(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[0] == "sandbox":
		return "/sandbox/{provider}/" + parts[2] + "/{reference}"
	case len(parts) >= 3 && parts[0] == "listeners":
		return "/listeners/{provider}/" + strings.Join(parts[2:], "/")
	case len(parts) == 4 && parts[0] == "api" && parts[2] == "payments":
		return "/api/v1/payments/{id}"
	case len(parts) == 5 && parts[0] == "api" && parts[2] == "payments":
		return "/api/v1/payments/{id}/" + parts[4]
	case len(parts) == 3 && parts[0] == "pay" && parts[1] == "link":
		return "/pay/link/{token}"
	}
	return path
}

// NewHTTPClient returns a client for merchants and browsers of many flows
// at once: requests time out after timeout, redirects are not followed
// (the Browser follows them itself, step by step), and up to conns
// connections to one host are kept open for reuse.
func NewHTTPClient(timeout time.Duration, conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(conns, 2)
	t.MaxIdleConnsPerHost = max(conns, 2)
	return &http.Client{Timeout: timeout, Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

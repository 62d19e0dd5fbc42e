package portal

import (
	"net/http"
	"net/url"
	"strings"
)

// The policy admits the embedded stylesheet and nothing else: no script of
// any origin, no inline style, no frames, no <base>. form-action is widened
// per page with the merchant's return origins and the configured provider
// origins, because browsers (Chromium) check form-action on every redirect
// that follows a form post, and the pages' forms end in 303s to those sites.
const (
	cspBefore = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'"
	cspAfter  = "; frame-ancestors 'none'; base-uri 'none'"
)

// contentSecurityPolicy returns the policy admitting origins, which must
// already be normalised by origin, as form targets.
func contentSecurityPolicy(origins []string) string {
	var b strings.Builder
	b.WriteString(cspBefore)
	for _, o := range origins {
		b.WriteByte(' ')
		b.WriteString(o)
	}
	b.WriteString(cspAfter)
	return b.String()
}

// secure sets the headers every response of the pages carries and bounds
// the request body.
func (h *Handler) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy(h.providerOrigins()))
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if h.TLS || r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if r.ContentLength > maxBodyBytes {
			hd.Set("Connection", "close")
			h.problem(w, r, nil, problemTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// origin returns the scheme://host[:port] of an absolute http(s) URL,
// lower-cased and without a default port, or "" when s is not one. The
// host is limited to the characters of DNS names and IP literals so that
// nothing but an origin can reach the policy header.
func origin(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return ""
	}
	host := strings.ToLower(u.Host)
	for _, c := range []byte(host) {
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strings.IndexByte(".-:[]", c) >= 0
		if !ok {
			return ""
		}
	}
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host
}

// origins normalises and de-duplicates lists of URLs or origins, dropping
// what is not an http(s) origin.
func origins(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range lists {
		for _, s := range list {
			if o := origin(s); o != "" && !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	return out
}

func (h *Handler) providerOrigins() []string { return origins(h.ProviderOrigins) }

// selfOrigin is the origin the browser sees the pages at.
func (h *Handler) selfOrigin(r *http.Request) string {
	scheme := "http"
	if h.TLS || r.TLS != nil {
		scheme = "https"
	}
	return origin(scheme + "://" + r.Host)
}

package payment

import (
	"net"
	"net/url"
	"strings"

	"github.com/paywire/paywire"
)

// CheckMerchantURL checks a URL the merchant gives for its end users or its
// notifications against the merchant's allowlist: https (http only on
// localhost, for merchants allowed it), no credentials, and the same
// scheme, host and port as one of the merchant's prefixes, with the path
// under the prefix's path. A path that browsers or servers could resolve
// to another one (dot segments, plain or percent-encoded; encoded slashes;
// backslashes; empty segments) is refused rather than resolved, so that
// the path compared is the path visited. Returns EINVALID saying why not.
func CheckMerchantURL(m *paywire.Merchant, what, raw string) error {
	if len(raw) > 2048 {
		return paywire.Errorf(paywire.EINVALID, "%s is longer than 2048 characters", what)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return paywire.Errorf(paywire.EINVALID, "%s must be an absolute URL", what)
	}
	switch {
	case u.User != nil:
		return paywire.Errorf(paywire.EINVALID, "%s must not contain credentials", what)
	case u.Scheme == "https":
	case u.Scheme == "http" && m.AllowLocalhostHTTP && isLoopback(u.Hostname()):
	default:
		return paywire.Errorf(paywire.EINVALID, "%s must use https", what)
	}
	if why := oddPath(u); why != "" {
		return paywire.Errorf(paywire.EINVALID, "%s must not contain %s in its path", what, why)
	}
	for _, p := range m.ReturnURLPrefixes {
		pu, err := url.Parse(p)
		if err != nil {
			continue
		}
		if strings.EqualFold(pu.Scheme, u.Scheme) && sameHost(m, pu, u) && underPath(u.EscapedPath(), pu.EscapedPath()) {
			return nil
		}
	}
	return paywire.Errorf(paywire.EINVALID, "%s is not on the merchant's list of allowed URLs", what)
}

// sameHost compares host and port. For development merchants a loopback
// prefix without a port admits any port on that host: development servers
// move between ports.
func sameHost(m *paywire.Merchant, prefix, u *url.URL) bool {
	if strings.EqualFold(prefix.Host, u.Host) {
		return true
	}
	return m.AllowLocalhostHTTP && prefix.Port() == "" && isLoopback(prefix.Hostname()) &&
		strings.EqualFold(prefix.Hostname(), u.Hostname())
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// underPath reports whether path is prefix or below it: "/shop/" admits
// "/shop/ok", "/shop" admits "/shop" and "/shop/ok" but not "/shopping".
func underPath(path, prefix string) bool {
	if path == "" {
		path = "/"
	}
	if prefix == "" || prefix == "/" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// oddPath says what in u's path could make it name another path than it
// reads as, or "" if nothing does. u.Path is the decoded path, so "%2e%2e"
// is caught as "..", and "%2f" and "%5c" are looked for in the escaped one.
func oddPath(u *url.URL) string {
	raw := strings.ToLower(u.EscapedPath())
	switch {
	case strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c"):
		return "encoded slashes"
	case strings.Contains(u.Path, `\`):
		return "backslashes"
	case strings.Contains(u.Path, "//"):
		return "empty segments"
	}
	for _, c := range []byte(u.Path) {
		if c < 0x20 || c == 0x7f {
			return "control characters"
		}
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "dot segments"
		}
	}
	return ""
}

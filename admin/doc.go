// Package admin is PS Admin, the back office: server-rendered pages under
// /admin/ for administrators, risk analysts, compliance, support and
// viewers.
//
// Every request goes through one chain: security headers and a body
// limit, the session (a database row any node reads, found by the SHA-256
// of the __Host- cookie's token; 15 minutes idle and 12 hours in all end
// it), the page's roles (checked on the server for every page and every
// action), and, for every form post, the session's CSRF token and a
// same-origin check. Signing in checks an argon2id password behind the
// same limits as the merchant API's secrets (failures per address and per
// username, a bounded number of verifications at once), then an optional
// TOTP code (RFC 6238).
package admin

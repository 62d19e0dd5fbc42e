package paywire

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// ListType says what the values of a list entry are, and so how a value is
// normalised and matched.
type ListType string

// The list entry types.
const (
	ListEmail           ListType = "email"            // an e-mail address, lower case
	ListEmailDomain     ListType = "email_domain"     // the part after the @, lower case
	ListCardFingerprint ListType = "card_fingerprint" // the keyed fingerprint of a card
	ListIP              ListType = "ip"               // an IP address or a CIDR prefix; matched by containment
	ListBIN             ListType = "bin"              // the card's first 6 digits, as payments keep them
	ListCountry         ListType = "country"          // ISO 3166-1 alpha-2, upper case
	ListCustomerID      ListType = "customer_id"      // "merchant/customer": a merchant's end user
	ListDeviceID        ListType = "device_id"        // the merchant's device identifier
)

// ListTypes are the list entry types, in the order they are documented.
var ListTypes = []ListType{ListEmail, ListEmailDomain, ListCardFingerprint, ListIP, ListBIN, ListCountry, ListCustomerID, ListDeviceID}

// ListEntry is one value on a named block or allow list kept in the
// database (beside the lists a policy bundle carries). Policies see the
// live entries as data at once, without a new bundle.
type ListEntry struct {
	ID        string
	List      string   // lower_snake_case, e.g. "blocked_emails"
	Type      ListType // every entry of a list has the list's type
	Value     string   // normalised (see NewListEntry)
	Reason    string   // why it is listed; required
	CreatedBy string   // the actor who added it
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// Active reports whether the entry is in effect at t.
func (e ListEntry) Active(t time.Time) bool { return e.ExpiresAt.IsZero() || t.Before(e.ExpiresAt) }

// ListSummary is a list's name, type and number of entries.
type ListSummary struct {
	List    string
	Type    ListType
	Entries int
}

// ListStore keeps the lists. Every change is written with its audit entry
// in one transaction and moves the version every node polls.
type ListStore interface {
	// AddListEntry stores e (made by NewListEntry, with CreatedBy set;
	// ID and CreatedAt are filled) and audits it as e.CreatedBy. Returns ECONFLICT if the list
	// holds the value already or has entries of another type, EINVALID
	// for an entry NewListEntry refuses.
	AddListEntry(ctx context.Context, e *ListEntry) error

	// RemoveListEntry deletes entry id of list and audits it as actor,
	// with the entry as it was. Returns ENOTFOUND if the list has no such
	// entry.
	RemoveListEntry(ctx context.Context, actor, list, id string) error

	// ListEntries returns the entries of list, expired ones included,
	// newest first; none for an unknown list.
	ListEntries(ctx context.Context, list string) ([]ListEntry, error)

	// Lists returns every list with its number of entries, by name.
	Lists(ctx context.Context) ([]ListSummary, error)

	// ActiveListEntries returns every entry in effect at t.
	ActiveListEntries(ctx context.Context, t time.Time) ([]ListEntry, error)

	// ListsVersion returns a number that changes with every change to the
	// lists, so that a node reloads them only when they changed.
	ListsVersion(ctx context.Context) (int64, error)
}

var listName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Limits of list entries.
const (
	MaxListValue  = 320 // the longest e-mail address
	MaxListReason = 500
)

// NewListEntry validates and normalises an entry of list: e-mail addresses
// and domains are trimmed and lower case, countries upper case, IP addresses
// and prefixes canonical (an IPv4-mapped address is IPv4, a prefix has no
// host bits), BINs 6 digits, customer ids "merchant/customer". The
// reason is required; a set expiry must be after now. Returns EINVALID
// saying what is wrong.
func NewListEntry(list string, typ ListType, value, reason string, expiresAt, now time.Time) (ListEntry, error) {
	if !listName.MatchString(list) {
		return ListEntry{}, Errorf(EINVALID, "the list name must be lower_snake_case, 1-64 characters, like blocked_emails")
	}
	v, err := NormaliseListValue(typ, value)
	if err != nil {
		return ListEntry{}, err
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return ListEntry{}, Errorf(EINVALID, "a reason is required: say why the value is listed")
	case len(reason) > MaxListReason:
		return ListEntry{}, Errorf(EINVALID, "the reason is at most %d bytes", MaxListReason)
	case !expiresAt.IsZero() && !expiresAt.After(now):
		return ListEntry{}, Errorf(EINVALID, "the expiry must be in the future")
	}
	return ListEntry{List: list, Type: typ, Value: v, Reason: reason, ExpiresAt: expiresAt}, nil
}

// NormaliseListValue returns value as lists of typ keep it, or EINVALID.
func NormaliseListValue(typ ListType, value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", Errorf(EINVALID, "a value is required")
	}
	if len(v) > MaxListValue {
		return "", Errorf(EINVALID, "the value is at most %d bytes", MaxListValue)
	}
	switch typ {
	case ListEmail:
		v = strings.ToLower(v)
		local, domain, ok := strings.Cut(v, "@")
		if !ok || local == "" || !validDomain(domain) || strings.ContainsAny(v, " \t\r\n") {
			return "", Errorf(EINVALID, "%q is not an e-mail address", truncate(value, 64))
		}
	case ListEmailDomain:
		v = strings.ToLower(strings.TrimPrefix(v, "@"))
		if !validDomain(v) {
			return "", Errorf(EINVALID, "%q is not an e-mail domain (the part after the @)", truncate(value, 64))
		}
	case ListCardFingerprint:
		if !printable(v) || strings.Contains(v, " ") {
			return "", Errorf(EINVALID, "a card fingerprint is printable text without spaces")
		}
	case ListIP:
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return "", Errorf(EINVALID, "%q is not an IP address or CIDR prefix", truncate(value, 64))
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			v = p.Masked().String()
		} else {
			a, err := netip.ParseAddr(v)
			if err != nil || a.Zone() != "" {
				return "", Errorf(EINVALID, "%q is not an IP address or CIDR prefix", truncate(value, 64))
			}
			v = a.Unmap().String()
		}
	case ListBIN:
		// A payment keeps the card's first 6 digits: a longer entry could
		// never match one.
		if len(v) != 6 || strings.Trim(v, "0123456789") != "" {
			return "", Errorf(EINVALID, "a BIN is the card's first 6 digits")
		}
	case ListCountry:
		v = strings.ToUpper(v)
		if len(v) != 2 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return "", Errorf(EINVALID, "a country is an ISO 3166-1 alpha-2 code, like DE")
		}
	case ListCustomerID:
		m, c, ok := strings.Cut(v, "/")
		if !ok || m == "" || c == "" || !printable(v) {
			return "", Errorf(EINVALID, "a customer id is the merchant id and the merchant's customer id, as merchant/customer")
		}
	case ListDeviceID:
		if !printable(v) {
			return "", Errorf(EINVALID, "a device id is printable text")
		}
	default:
		return "", Errorf(EINVALID, "the type must be one of email, email_domain, card_fingerprint, ip, bin, country, customer_id, device_id")
	}
	return v, nil
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r > 127) {
			return false
		}
	}
	return !strings.Contains(d, "..")
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

package engine

import (
	"reflect"
	"strings"
	"time"

	exprast "github.com/expr-lang/expr/ast"

	"github.com/paywire/paywire"
)

// FeatureKeys is a set of the keys features are counted by.
type FeatureKeys uint8

// The keys, and all of them.
const (
	FeatureCard FeatureKeys = 1 << iota
	FeatureEmail
	FeatureIP
	FeatureCustomer
	FeatureDevice

	AllFeatureKeys = FeatureCard | FeatureEmail | FeatureIP | FeatureCustomer | FeatureDevice
)

// Has reports whether k holds every key of of.
func (k FeatureKeys) Has(of FeatureKeys) bool { return k&of == of }

// featureKey is the key a feature's name (customer_age_days) counts by:
// its first word. A name of no key (one read by a policy that reads a
// feature that does not exist) reads them all, to be safe.
func featureKey(name string) FeatureKeys {
	word, _, _ := strings.Cut(name, "_")
	switch word {
	case "card":
		return FeatureCard
	case "email":
		return FeatureEmail
	case "ip":
		return FeatureIP
	case "customer":
		return FeatureCustomer
	case "device":
		return FeatureDevice
	}
	return AllFeatureKeys
}

// Features are the behavioural facts about a payment's card, e-mail, IP,
// customer and device, computed from the payment history (see
// paywire.Features for what each counts). A nil field is unknown: the
// payment has no such key (no card, no device id), or nothing was
// computed. Unknown is not zero: an expr rule that reads an unknown
// feature does not fire, and Rego policies see it absent. Counts exclude
// the payment being decided. For each key K (card, email, ip, customer,
// device): K_count_1h, K_count_24h, K_count_7d (payments created),
// K_authorized_24h (paid), K_declines_24h (refused or failed, not by a
// risk block), K_blocked_24h (blocked by risk), K_amount_24h (in this
// payment's currency, minor units), K_age_days (whole days since the key's
// first payment; 0 for a key first seen today or never); and
// email_cards_24h, ip_cards_24h (distinct cards), customer_successful (the
// customer's paid payments, ever). Cards, e-mails, IPs and devices are
// counted across merchants, customers within the merchant.
//
// Bounded: the store reads at most paywire.FeatureCap (100) of a key's
// newest payments (of 7 days; a customer's, ever). K_capped (a boolean,
// known with the key) says it read that many and there may be more; then
// every count of a window that holds them all is a lower bound, and equals
// the cap (K_count_7d is 100: "at least 100"), and so are that window's
// other figures (declines, amounts, cards) and, for a capped customer,
// customer_successful. Windows with fewer payments stay exact. A count of
// the cap is above every shipped threshold, so a capped key trips the
// velocity rules.
type Features struct {
	CardCount1h           *int64 `json:"card_count_1h,omitempty" expr:"card_count_1h"`
	CardCount24h          *int64 `json:"card_count_24h,omitempty" expr:"card_count_24h"`
	CardCount7d           *int64 `json:"card_count_7d,omitempty" expr:"card_count_7d"`
	CardAuthorized24h     *int64 `json:"card_authorized_24h,omitempty" expr:"card_authorized_24h"`
	CardDeclines24h       *int64 `json:"card_declines_24h,omitempty" expr:"card_declines_24h"`
	CardBlocked24h        *int64 `json:"card_blocked_24h,omitempty" expr:"card_blocked_24h"`
	CardAmount24h         *int64 `json:"card_amount_24h,omitempty" expr:"card_amount_24h"`
	CardAgeDays           *int64 `json:"card_age_days,omitempty" expr:"card_age_days"`
	CardCapped            *bool  `json:"card_capped,omitempty" expr:"card_capped"`
	EmailCount1h          *int64 `json:"email_count_1h,omitempty" expr:"email_count_1h"`
	EmailCount24h         *int64 `json:"email_count_24h,omitempty" expr:"email_count_24h"`
	EmailCount7d          *int64 `json:"email_count_7d,omitempty" expr:"email_count_7d"`
	EmailAuthorized24h    *int64 `json:"email_authorized_24h,omitempty" expr:"email_authorized_24h"`
	EmailDeclines24h      *int64 `json:"email_declines_24h,omitempty" expr:"email_declines_24h"`
	EmailBlocked24h       *int64 `json:"email_blocked_24h,omitempty" expr:"email_blocked_24h"`
	EmailAmount24h        *int64 `json:"email_amount_24h,omitempty" expr:"email_amount_24h"`
	EmailAgeDays          *int64 `json:"email_age_days,omitempty" expr:"email_age_days"`
	EmailCards24h         *int64 `json:"email_cards_24h,omitempty" expr:"email_cards_24h"`
	EmailCapped           *bool  `json:"email_capped,omitempty" expr:"email_capped"`
	IPCount1h             *int64 `json:"ip_count_1h,omitempty" expr:"ip_count_1h"`
	IPCount24h            *int64 `json:"ip_count_24h,omitempty" expr:"ip_count_24h"`
	IPCount7d             *int64 `json:"ip_count_7d,omitempty" expr:"ip_count_7d"`
	IPAuthorized24h       *int64 `json:"ip_authorized_24h,omitempty" expr:"ip_authorized_24h"`
	IPDeclines24h         *int64 `json:"ip_declines_24h,omitempty" expr:"ip_declines_24h"`
	IPBlocked24h          *int64 `json:"ip_blocked_24h,omitempty" expr:"ip_blocked_24h"`
	IPAmount24h           *int64 `json:"ip_amount_24h,omitempty" expr:"ip_amount_24h"`
	IPAgeDays             *int64 `json:"ip_age_days,omitempty" expr:"ip_age_days"`
	IPCards24h            *int64 `json:"ip_cards_24h,omitempty" expr:"ip_cards_24h"`
	IPCapped              *bool  `json:"ip_capped,omitempty" expr:"ip_capped"`
	CustomerCount1h       *int64 `json:"customer_count_1h,omitempty" expr:"customer_count_1h"`
	CustomerCount24h      *int64 `json:"customer_count_24h,omitempty" expr:"customer_count_24h"`
	CustomerCount7d       *int64 `json:"customer_count_7d,omitempty" expr:"customer_count_7d"`
	CustomerAuthorized24h *int64 `json:"customer_authorized_24h,omitempty" expr:"customer_authorized_24h"`
	CustomerDeclines24h   *int64 `json:"customer_declines_24h,omitempty" expr:"customer_declines_24h"`
	CustomerBlocked24h    *int64 `json:"customer_blocked_24h,omitempty" expr:"customer_blocked_24h"`
	CustomerAmount24h     *int64 `json:"customer_amount_24h,omitempty" expr:"customer_amount_24h"`
	CustomerAgeDays       *int64 `json:"customer_age_days,omitempty" expr:"customer_age_days"`
	CustomerSuccessful    *int64 `json:"customer_successful,omitempty" expr:"customer_successful"`
	CustomerCapped        *bool  `json:"customer_capped,omitempty" expr:"customer_capped"`
	DeviceCount1h         *int64 `json:"device_count_1h,omitempty" expr:"device_count_1h"`
	DeviceCount24h        *int64 `json:"device_count_24h,omitempty" expr:"device_count_24h"`
	DeviceCount7d         *int64 `json:"device_count_7d,omitempty" expr:"device_count_7d"`
	DeviceAuthorized24h   *int64 `json:"device_authorized_24h,omitempty" expr:"device_authorized_24h"`
	DeviceDeclines24h     *int64 `json:"device_declines_24h,omitempty" expr:"device_declines_24h"`
	DeviceBlocked24h      *int64 `json:"device_blocked_24h,omitempty" expr:"device_blocked_24h"`
	DeviceAmount24h       *int64 `json:"device_amount_24h,omitempty" expr:"device_amount_24h"`
	DeviceAgeDays         *int64 `json:"device_age_days,omitempty" expr:"device_age_days"`
	DeviceCapped          *bool  `json:"device_capped,omitempty" expr:"device_capped"`
}

// featureAttrs are the features as policies name them.
var featureAttrs = []featureAttr{
	{"card_count_1h", func(f *Features) any { return value(f.CardCount1h) }},
	{"card_count_24h", func(f *Features) any { return value(f.CardCount24h) }},
	{"card_count_7d", func(f *Features) any { return value(f.CardCount7d) }},
	{"card_authorized_24h", func(f *Features) any { return value(f.CardAuthorized24h) }},
	{"card_declines_24h", func(f *Features) any { return value(f.CardDeclines24h) }},
	{"card_blocked_24h", func(f *Features) any { return value(f.CardBlocked24h) }},
	{"card_amount_24h", func(f *Features) any { return value(f.CardAmount24h) }},
	{"card_age_days", func(f *Features) any { return value(f.CardAgeDays) }},
	{"card_capped", func(f *Features) any { return value(f.CardCapped) }},
	{"email_count_1h", func(f *Features) any { return value(f.EmailCount1h) }},
	{"email_count_24h", func(f *Features) any { return value(f.EmailCount24h) }},
	{"email_count_7d", func(f *Features) any { return value(f.EmailCount7d) }},
	{"email_authorized_24h", func(f *Features) any { return value(f.EmailAuthorized24h) }},
	{"email_declines_24h", func(f *Features) any { return value(f.EmailDeclines24h) }},
	{"email_blocked_24h", func(f *Features) any { return value(f.EmailBlocked24h) }},
	{"email_amount_24h", func(f *Features) any { return value(f.EmailAmount24h) }},
	{"email_age_days", func(f *Features) any { return value(f.EmailAgeDays) }},
	{"email_cards_24h", func(f *Features) any { return value(f.EmailCards24h) }},
	{"email_capped", func(f *Features) any { return value(f.EmailCapped) }},
	{"ip_count_1h", func(f *Features) any { return value(f.IPCount1h) }},
	{"ip_count_24h", func(f *Features) any { return value(f.IPCount24h) }},
	{"ip_count_7d", func(f *Features) any { return value(f.IPCount7d) }},
	{"ip_authorized_24h", func(f *Features) any { return value(f.IPAuthorized24h) }},
	{"ip_declines_24h", func(f *Features) any { return value(f.IPDeclines24h) }},
	{"ip_blocked_24h", func(f *Features) any { return value(f.IPBlocked24h) }},
	{"ip_amount_24h", func(f *Features) any { return value(f.IPAmount24h) }},
	{"ip_age_days", func(f *Features) any { return value(f.IPAgeDays) }},
	{"ip_cards_24h", func(f *Features) any { return value(f.IPCards24h) }},
	{"ip_capped", func(f *Features) any { return value(f.IPCapped) }},
	{"customer_count_1h", func(f *Features) any { return value(f.CustomerCount1h) }},
	{"customer_count_24h", func(f *Features) any { return value(f.CustomerCount24h) }},
	{"customer_count_7d", func(f *Features) any { return value(f.CustomerCount7d) }},
	{"customer_authorized_24h", func(f *Features) any { return value(f.CustomerAuthorized24h) }},
	{"customer_declines_24h", func(f *Features) any { return value(f.CustomerDeclines24h) }},
	{"customer_blocked_24h", func(f *Features) any { return value(f.CustomerBlocked24h) }},
	{"customer_amount_24h", func(f *Features) any { return value(f.CustomerAmount24h) }},
	{"customer_age_days", func(f *Features) any { return value(f.CustomerAgeDays) }},
	{"customer_successful", func(f *Features) any { return value(f.CustomerSuccessful) }},
	{"customer_capped", func(f *Features) any { return value(f.CustomerCapped) }},
	{"device_count_1h", func(f *Features) any { return value(f.DeviceCount1h) }},
	{"device_count_24h", func(f *Features) any { return value(f.DeviceCount24h) }},
	{"device_count_7d", func(f *Features) any { return value(f.DeviceCount7d) }},
	{"device_authorized_24h", func(f *Features) any { return value(f.DeviceAuthorized24h) }},
	{"device_declines_24h", func(f *Features) any { return value(f.DeviceDeclines24h) }},
	{"device_blocked_24h", func(f *Features) any { return value(f.DeviceBlocked24h) }},
	{"device_amount_24h", func(f *Features) any { return value(f.DeviceAmount24h) }},
	{"device_age_days", func(f *Features) any { return value(f.DeviceAgeDays) }},
	{"device_capped", func(f *Features) any { return value(f.DeviceCapped) }},
}

// featureAttr is one feature: its name and its value, nil when unknown.
type featureAttr struct {
	name string
	get  func(*Features) any
}

// value is a feature's value; nil (untyped) when unknown.
func value[T int64 | bool](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// FeaturesOf converts the features computed from the store to the
// attributes policies read; keys that are not known stay nil.
func FeaturesOf(f paywire.Features, at time.Time) Features {
	var out Features
	if k := f.Card; k.Known {
		out.CardCount1h = Known(k.H1.Attempted)
		out.CardCount24h = Known(k.H24.Attempted)
		out.CardCount7d = Known(k.D7.Attempted)
		out.CardAuthorized24h = Known(k.H24.Authorized)
		out.CardDeclines24h = Known(k.H24.Declined)
		out.CardBlocked24h = Known(k.H24.Blocked)
		out.CardAmount24h = Known(k.H24.Amount)
		out.CardAgeDays = Known(ageDays(k.FirstSeen, at))
		out.CardCapped = KnownFlag(k.Capped)
	}
	if k := f.Email; k.Known {
		out.EmailCount1h = Known(k.H1.Attempted)
		out.EmailCount24h = Known(k.H24.Attempted)
		out.EmailCount7d = Known(k.D7.Attempted)
		out.EmailAuthorized24h = Known(k.H24.Authorized)
		out.EmailDeclines24h = Known(k.H24.Declined)
		out.EmailBlocked24h = Known(k.H24.Blocked)
		out.EmailAmount24h = Known(k.H24.Amount)
		out.EmailAgeDays = Known(ageDays(k.FirstSeen, at))
		out.EmailCapped = KnownFlag(k.Capped)
		out.EmailCards24h = Known(f.EmailCards24h)
	}
	if k := f.IP; k.Known {
		out.IPCount1h = Known(k.H1.Attempted)
		out.IPCount24h = Known(k.H24.Attempted)
		out.IPCount7d = Known(k.D7.Attempted)
		out.IPAuthorized24h = Known(k.H24.Authorized)
		out.IPDeclines24h = Known(k.H24.Declined)
		out.IPBlocked24h = Known(k.H24.Blocked)
		out.IPAmount24h = Known(k.H24.Amount)
		out.IPAgeDays = Known(ageDays(k.FirstSeen, at))
		out.IPCapped = KnownFlag(k.Capped)
		out.IPCards24h = Known(f.IPCards24h)
	}
	if k := f.Customer; k.Known {
		out.CustomerCount1h = Known(k.H1.Attempted)
		out.CustomerCount24h = Known(k.H24.Attempted)
		out.CustomerCount7d = Known(k.D7.Attempted)
		out.CustomerAuthorized24h = Known(k.H24.Authorized)
		out.CustomerDeclines24h = Known(k.H24.Declined)
		out.CustomerBlocked24h = Known(k.H24.Blocked)
		out.CustomerAmount24h = Known(k.H24.Amount)
		out.CustomerAgeDays = Known(ageDays(k.FirstSeen, at))
		out.CustomerCapped = KnownFlag(k.Capped)
		out.CustomerSuccessful = Known(f.CustomerSuccessful)
	}
	if k := f.Device; k.Known {
		out.DeviceCount1h = Known(k.H1.Attempted)
		out.DeviceCount24h = Known(k.H24.Attempted)
		out.DeviceCount7d = Known(k.D7.Attempted)
		out.DeviceAuthorized24h = Known(k.H24.Authorized)
		out.DeviceDeclines24h = Known(k.H24.Declined)
		out.DeviceBlocked24h = Known(k.H24.Blocked)
		out.DeviceAmount24h = Known(k.H24.Amount)
		out.DeviceAgeDays = Known(ageDays(k.FirstSeen, at))
		out.DeviceCapped = KnownFlag(k.Capped)
	}
	return out
}

// Known returns a known feature value.
func Known(n int64) *int64 { return &n }

// KnownFlag returns a known boolean feature (K_capped).
func KnownFlag(b bool) *bool { return &b }

// flagFeatures are the boolean features (a *bool in Features), by name.
var flagFeatures = func() map[string]bool {
	flags := map[string]bool{}
	t := reflect.TypeFor[Features]()
	for i := range t.NumField() {
		if f := t.Field(i); f.Type == reflect.TypeFor[*bool]() {
			flags[f.Tag.Get("expr")] = true
		}
	}
	return flags
}()

// flagPatch lets an expr rule use a boolean feature as a boolean
// (`when: features.card_capped`, `... || features.card_capped`): Features
// keeps it a *bool, nil when unknown, which expr does not take for a bool
// (a rule of it alone does not compile; in || it fails when run). It reads
// each one as `flag ?? false`; the false is never used, since a rule that
// reads an unknown feature is not run.
type flagPatch struct{}

func (flagPatch) Visit(node *exprast.Node) {
	m, ok := (*node).(*exprast.MemberNode)
	if !ok {
		return
	}
	root, ok := m.Node.(*exprast.IdentifierNode)
	name, named := m.Property.(*exprast.StringNode)
	if ok && named && root.Value == "features" && flagFeatures[name.Value] {
		exprast.Patch(node, &exprast.BinaryNode{Operator: "??", Left: m, Right: &exprast.BoolNode{Value: false}})
	}
}

// ageDays is the whole days from first to at; 0 for a key never seen
// before (first is zero) or seen first today.
func ageDays(first, at time.Time) int64 {
	if first.IsZero() || !at.After(first) {
		return 0
	}
	return int64(at.Sub(first) / (24 * time.Hour))
}

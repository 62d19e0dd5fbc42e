package credential

import "github.com/paywire/paywire"

// CheckMerchantURLs checks the return URL prefixes and notification URL of
// m as CreateMerchant does, for callers that change them later (the back
// office's merchant settings). Returns EINVALID naming the URL refused.
func CheckMerchantURLs(m *paywire.Merchant) error { return checkMerchantURLs(m) }

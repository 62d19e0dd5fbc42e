package enrich

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoIP tells the country of an IP address from a MaxMind DB file in the
// GeoLite2-Country / GeoIP2-Country layout (City and Enterprise databases
// carry the same fields and work too). It is safe for concurrent use. A nil
// *GeoIP knows nothing: Country reports false, so a deployment without a
// database needs no special case.
type GeoIP struct {
	db atomic.Pointer[maxminddb.Reader]
}

// OpenGeoIP reads and verifies the database at path. The file is read into
// memory rather than mapped: replacing or truncating it in place while the
// service runs then cannot crash the process, and Close cannot pull memory
// from under a lookup in flight. A country database is a few megabytes.
// Verification walks the whole file once, so a corrupt or truncated
// database is refused here instead of failing lookups later.
func OpenGeoIP(path string) (*GeoIP, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enrich: GeoIP database: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("enrich: GeoIP database %s is empty", path)
	}
	db, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("enrich: GeoIP database %s is not a valid MaxMind DB file: %w", path, err)
	}
	if err := db.Verify(); err != nil {
		return nil, fmt.Errorf("enrich: GeoIP database %s is corrupt: %w", path, err)
	}
	g := &GeoIP{}
	g.db.Store(db)
	return g, nil
}

// geoRecord is the part of a GeoIP2 record that Country reads; the decoder
// skips everything else.
type geoRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country returns the ISO 3166-1 alpha-2 code of the country where ip (an
// IPv4 or IPv6 address in text form) is located: the record's country, or
// when the database does not locate the address, the country where its
// network is registered (as for many anycast and satellite networks). It
// reports false for a nil or closed GeoIP, text that is not an IP address,
// addresses that are not public (private, loopback, link-local, multicast,
// unspecified) and addresses the database does not know.
func (g *GeoIP) Country(ip string) (string, bool) {
	if g == nil {
		return "", false
	}
	db := g.db.Load()
	if db == nil {
		return "", false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "", false
	}
	addr = addr.Unmap().WithZone("")
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return "", false
	}
	res := db.Lookup(addr)
	if !res.Found() {
		return "", false
	}
	var rec geoRecord
	if err := res.Decode(&rec); err != nil {
		return "", false
	}
	for _, code := range [...]string{rec.Country.ISOCode, rec.RegisteredCountry.ISOCode} {
		if len(code) == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z' {
			return code, true
		}
	}
	return "", false
}

// Close releases the database. Lookups afterwards report false; a lookup
// already running finishes with the data it started with. Close on a nil or
// closed GeoIP does nothing.
func (g *GeoIP) Close() error {
	if g == nil {
		return nil
	}
	g.db.Store(nil)
	return nil
}

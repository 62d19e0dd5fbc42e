package main

import (
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/enrich"
)

// enrichment answers the payment use cases' questions about BINs from the
// active bundle's BIN table, so that a new bundle revision updates it, and
// about IP addresses from the configured country database (none: unknown).
type enrichment struct {
	engine *engine.Engine
	geo    *enrich.GeoIP
}

func (x enrichment) Card(bin string) (country, cardType string) {
	b := x.engine.Active()
	if b == nil {
		return "", ""
	}
	info, ok := b.BIN(bin)
	if !ok {
		return "", ""
	}
	return info.Country, info.Type
}

func (x enrichment) IPCountry(ip string) string {
	c, _ := x.geo.Country(ip)
	return c
}

// Package enrich owns the reference data that turns what a payment already
// carries into facts for the risk decision: a card's BIN into its issuing
// country, brand and funding type (BINTable), and an end user's IP address
// into a country (GeoIP). It only answers lookups over data it was given at
// start-up; it does not fetch or refresh data, store anything, or decide
// what a mismatch means — that is the policies' job. An answer it cannot
// give is reported as unknown (false), never as a guess, so that features
// built from it stay absent rather than wrong.
package enrich

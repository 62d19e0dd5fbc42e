package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/paywire/paywire/traffic"
)

const simulateUsage = `Usage:
  paywire simulate --payments N [--rate R] [--url U] [--merchant ID] [flags]

Drives N sandbox payments through a running node as a merchant and its end
users would: the merchant starts each over the JSON API or SOAP
getRedirectData, its end user pays on the hosted pages (method selection,
card, bank or e-wallet form, the sandbox's 3-D Secure and bank pages) and
comes back, and the merchant captures what is left authorized. The end
users come back (customer-sticky experiments see them in one arm), from
several countries, with their own cards and the sandbox's test cards. At
the end it prints the payments by final state, by provider and by scenario,
and the timings of every kind of step. The secret is --secret or
PAYWIRE_SIMULATE_SECRET; the merchant's return URLs (--return-url) must be
on its allowlist.
`

// simulateConfig is what `paywire simulate` is told.
type simulateConfig struct {
	sim     traffic.Simulation
	url     string
	timeout time.Duration
}

func parseSimulate(args []string, stdout io.Writer, getenv func(string) string) (*simulateConfig, error) {
	fs := flag.NewFlagSet("paywire simulate", flag.ContinueOnError)
	fs.SetOutput(discard{})
	payments := fs.Int("payments", 0, "how many payments to make (1 to 100000; required)")
	rate := fs.Float64("rate", 5, "payments started a second (0.01 to 1000)")
	concurrency := fs.Int("concurrency", 16, "payment flows running at once, at most (1 to 1000)")
	server := fs.String("url", envOr(getenv, "PAYWIRE_SIMULATE_URL", "http://127.0.0.1:8080"), "base URL of the node ($PAYWIRE_SIMULATE_URL)")
	merchant := fs.String("merchant", envOr(getenv, "PAYWIRE_SIMULATE_MERCHANT", "demo"), "merchant id ($PAYWIRE_SIMULATE_MERCHANT)")
	secret := fs.String("secret", "", "the merchant's API secret ($PAYWIRE_SIMULATE_SECRET, which keeps it out of process lists)")
	api := fs.String("api", "both", "how payments start: json, soap or both (in turn)")
	returnURL := fs.String("return-url", "http://127.0.0.1/simulate/", "base of the merchant's return pages (never fetched; on the merchant's allowlist)")
	notifyURL := fs.String("notification-url", "", "where the payments' notifications go, e.g. the demo shop's http://127.0.0.1:8080/shop/listener (on the merchant's allowlist; empty: the merchant account's)")
	customers := fs.Int("customers", 0, "end users, each coming back (0: a third of --payments, at least 10)")
	scenarios := fs.String("scenarios", "", "weights of what end users do, e.g. card=60,card-3ds=10,bank=10 (scenarios: "+strings.Join(traffic.Scenarios, ", ")+"; empty: the default mix)")
	countries := fs.String("countries", "", "end users' countries, a subset of "+countryCodes()+" (empty: all, weighted as a European shop's)")
	seed := fs.Uint64("seed", 1, "seed of the end users and what they do: the same seed, the same simulation")
	settle := fs.Duration("settle", 30*time.Second, "how long to keep reading payments still pending after the last flow (0 to 10m)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long one HTTP request may take (1s to 5m)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, simulateUsage)
			printFlags(stdout, fs)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q\n\n%s", fs.Arg(0), simulateUsage)
	}
	var errs []error
	if *payments < 1 || *payments > 100000 {
		errs = append(errs, fmt.Errorf("--payments: %d is not a number of payments from 1 to 100000", *payments))
	}
	if *rate < 0.01 || *rate > 1000 {
		errs = append(errs, fmt.Errorf("--rate: %g is not a number of payments a second from 0.01 to 1000", *rate))
	}
	if *concurrency < 1 || *concurrency > 1000 {
		errs = append(errs, fmt.Errorf("--concurrency: %d is not from 1 to 1000", *concurrency))
	}
	errs = append(errs, checkClient(*server, *merchant, secret, "PAYWIRE_SIMULATE_SECRET", getenv)...)
	if !slices.Contains([]string{"json", "soap", "both"}, *api) {
		errs = append(errs, fmt.Errorf("--api: %q is not json, soap or both", *api))
	}
	errs = append(errs, checkShopURLs(*returnURL, *notifyURL)...)
	if *customers < 0 || *customers > 1000000 {
		errs = append(errs, fmt.Errorf("--customers: %d is not from 0 to 1000000", *customers))
	}
	mix := traffic.DefaultMix()
	var err error
	if *scenarios != "" {
		if mix.Scenarios, err = traffic.ParseScenarios(*scenarios); err != nil {
			errs = append(errs, fmt.Errorf("--scenarios: %v", err))
		}
	}
	if mix.Countries, err = chooseCountries(*countries); err != nil {
		errs = append(errs, err)
	}
	if *settle < 0 || *settle > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--settle: %s is not from 0 to 10m", *settle))
	}
	if *timeout < time.Second || *timeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("--timeout: %s is not from 1s to 5m", *timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	which := *api
	if which == "both" {
		which = ""
	}
	c := &simulateConfig{url: strings.TrimRight(*server, "/"), timeout: *timeout}
	c.sim = traffic.Simulation{Payments: *payments, Rate: *rate, Concurrency: *concurrency, Customers: *customers, API: which,
		ReturnURL: *returnURL, NotificationURL: *notifyURL, Mix: mix, Seed: *seed, Settle: *settle}
	c.sim.Merchants = []*traffic.Merchant{{BaseURL: c.url, ID: *merchant, Secret: *secret}}
	return c, nil
}

// checkClient checks the flags of a command that drives a node as a
// merchant: the node's base URL, the merchant id and its secret, taken
// from the environment variable secretEnv when the flag is empty.
func checkClient(server, merchant string, secret *string, secretEnv string, getenv func(string) string) []error {
	var errs []error
	base, err := url.Parse(server)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || (base.Path != "" && base.Path != "/") {
		errs = append(errs, fmt.Errorf("--url: %q is not a base URL such as http://127.0.0.1:8080", server))
	}
	if merchant == "" {
		errs = append(errs, errors.New("--merchant: give the merchant id"))
	}
	if *secret == "" {
		*secret = getenv(secretEnv)
	}
	if *secret == "" {
		errs = append(errs, fmt.Errorf("no API secret: set %s (or --secret)", secretEnv))
	}
	return errs
}

// checkShopURLs checks the merchant's return pages and, when set, its
// notification URL.
func checkShopURLs(returnURL, notifyURL string) []error {
	var errs []error
	ru, err := url.Parse(returnURL)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" || ru.RawQuery != "" {
		errs = append(errs, fmt.Errorf("--return-url: %q is not an absolute http(s) URL without a query", returnURL))
	}
	if notifyURL != "" {
		if nu, err := url.Parse(notifyURL); err != nil || (nu.Scheme != "http" && nu.Scheme != "https") || nu.Host == "" {
			errs = append(errs, fmt.Errorf("--notification-url: %q is not an absolute http(s) URL", notifyURL))
		}
	}
	return errs
}

// chooseCountries returns the default mix's countries named in list
// ("DE,FR"), weighted as there; all of them for an empty list.
func chooseCountries(list string) ([]traffic.Country, error) {
	all := traffic.DefaultMix().Countries
	if list == "" {
		return all, nil
	}
	var chosen []traffic.Country
	var errs []error
	for _, code := range strings.Split(list, ",") {
		code = strings.ToUpper(strings.TrimSpace(code))
		i := slices.IndexFunc(all, func(c traffic.Country) bool { return c.Code == code })
		if i < 0 {
			errs = append(errs, fmt.Errorf("--countries: %q is not one of %s", code, countryCodes()))
			continue
		}
		chosen = append(chosen, all[i])
	}
	return chosen, errors.Join(errs...)
}

// countryCodes lists the countries a simulation's end users may live in.
func countryCodes() string {
	var codes []string
	for _, c := range traffic.DefaultMix().Countries {
		codes = append(codes, c.Code)
	}
	return strings.Join(codes, ",")
}

func runSimulate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	c, err := parseSimulate(args, stdout, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return usageError{err}
	}
	client := traffic.NewHTTPClient(c.timeout, c.sim.Concurrency)
	c.sim.HTTP = client
	for _, m := range c.sim.Merchants {
		m.HTTP = client
	}
	fmt.Fprintf(stdout, "simulating %d payments at %g a second against %s as merchant %s\n", c.sim.Payments, c.sim.Rate, c.url, c.sim.Merchants[0].ID)
	sum, err := c.sim.Run(ctx)
	if err != nil {
		return err
	}
	sum.Write(stdout)
	if ctx.Err() != nil {
		return fmt.Errorf("stopped after %d payments", sum.Payments)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %d payment flows went wrong (see above)", sum.Failed, sum.Payments)
	}
	return nil
}

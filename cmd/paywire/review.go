package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"
)

const reviewUsage = `Usage:
  paywire review list [--merchant ID] [--limit N]
                                      the review queue, oldest first
  paywire review approve --merchant ID --payment P --reason WHY
                                      take a held payment on (captured when the merchant auto-captures)
  paywire review decline --merchant ID --payment P --reason WHY
                                      refuse a held payment (its authorization is voided)

The review command asks a running node's operator API: --server (or
PAYWIRE_SERVER, default http://127.0.0.1:8080) with PAYWIRE_OPERATOR_TOKEN,
because a decision may call the payment's provider. Decisions are audited
as operator:api with the reason.
`

func runReview(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{errors.New("say list, approve or decline\n\n" + reviewUsage)}
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, reviewUsage)
		return nil
	case "list", "approve", "decline":
	default:
		return usageError{fmt.Errorf("unknown review command %q\n\n%s", sub, reviewUsage)}
	}
	fs := flag.NewFlagSet("paywire review "+sub, flag.ContinueOnError)
	fs.SetOutput(discard{})
	server := fs.String("server", envOr(getenv, "PAYWIRE_SERVER", "http://127.0.0.1:8080"), "base URL of a running node ($PAYWIRE_SERVER)")
	merchant := fs.String("merchant", "", "merchant id")
	paymentID := fs.String("payment", "", "payment id (approve, decline)")
	reason := fs.String("reason", "", "why (approve, decline; recorded in the audit log)")
	limit := fs.Int("limit", 100, "at most this many (list)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	token := getenv("PAYWIRE_OPERATOR_TOKEN")
	if token == "" {
		return usageError{errors.New("PAYWIRE_OPERATOR_TOKEN is not set: the review command uses the operator API")}
	}
	client := &http.Client{Timeout: 60 * time.Second}
	call := func(method, path string, body any, out any) error {
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(ctx, method, *server+path, rd)
		if err != nil {
			return usageError{fmt.Errorf("--server: %v", err)}
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("asking %s: %v", *server, err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
		if res.StatusCode >= 300 {
			var e struct {
				Error struct{ Code, Message, RequestID string }
			}
			if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
				return fmt.Errorf("%s: %s (request %s)", e.Error.Code, e.Error.Message, e.Error.RequestID)
			}
			return fmt.Errorf("%s answered %s", *server, res.Status)
		}
		return json.Unmarshal(raw, out)
	}
	type review struct {
		MerchantID string `json:"merchantId"`
		RiskScore  int    `json:"riskScore"`
		RiskAction string `json:"riskAction"`
		Payment    struct {
			PaymentID, MerchantReference, State, Amount, Currency, CreatedAt string
		} `json:"payment"`
	}
	if sub == "list" {
		var out struct{ Reviews []review }
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		if *merchant != "" {
			q.Set("merchantId", *merchant)
		}
		if err := call("GET", "/api/v1/operator/reviews?"+q.Encode(), nil, &out); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MERCHANT\tPAYMENT\tREFERENCE\tAMOUNT\tSCORE\tSINCE")
		for _, r := range out.Reviews {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%d\t%s\n", r.MerchantID, r.Payment.PaymentID, r.Payment.MerchantReference,
				r.Payment.Amount, r.Payment.Currency, r.RiskScore, r.Payment.CreatedAt)
		}
		return tw.Flush()
	}
	if *merchant == "" || *paymentID == "" || *reason == "" {
		return usageError{errors.New("--merchant, --payment and --reason are needed\n\n" + reviewUsage)}
	}
	var out review
	path := "/api/v1/operator/merchants/" + url.PathEscape(*merchant) + "/payments/" + url.PathEscape(*paymentID) + "/review"
	if err := call("POST", path, map[string]string{"decision": sub, "reason": *reason}, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "payment %s is %s\n", out.Payment.PaymentID, out.Payment.State)
	return nil
}

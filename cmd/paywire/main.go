// Command paywire is the one Paywire binary. It reads flags and the
// environment into a Config, builds the concrete types and wires them
// together; it is the only package that does.
//
//	paywire serve [--addr ...] [--db ...] [--demo]   run the service
//	paywire migrate up|status [--db ...]             manage the schema
//	paywire healthcheck [--url ...]                  probe a running node
//	paywire policy test|eval|build ...               work with policy bundles
//	paywire policy push|submit|approve|activate|rollback|history  govern the bundles nodes run
//	paywire merchant create|list|credentials|issue|rotate|revoke  manage merchants and API secrets
//	paywire audit verify|list [--db ...]             check the audit log's hash chain
//	paywire simulate --payments N [--rate R] ...     drive sandbox payments through a running node
//	paywire loadgen [--mode json|soap|flow] ...      measure a running node's throughput and latency
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `Paywire, a payment service.

Usage:
  paywire serve [flags]           run the HTTP service
  paywire migrate up [flags]      apply missing database migrations
  paywire migrate status [flags]  list migrations and whether they are applied
  paywire healthcheck [--url U]   exit 0 if U (default http://127.0.0.1:8080/readyz) answers 200
  paywire policy test|eval|build  test, evaluate or package a policy bundle
  paywire policy push|submit|approve|activate|rollback|history
                                  the life cycle of policy bundles in the database (run on every node)
  paywire policy shadow --revision N|--stop|status
                                  decide live traffic again with a candidate revision, off the
                                  request's path, and count where it disagrees
  paywire merchant ...            create merchants; issue, rotate, revoke and list API secrets
  paywire list add|remove|show    block and allow lists that policies read (in effect within seconds)
  paywire review list|approve|decline
                                  the review queue of a running node, and decisions on it
  paywire audit verify|list       check the audit log's hash chain; the newest entries
  paywire simulate --payments N [--rate R] [--url U] [--merchant ID]
                                  drive N sandbox payments through a running node's API and hosted
                                  pages as merchants and end users do; summarise how they ended
  paywire loadgen [--mode json|soap|flow] [--concurrency N] [--duration D] [--url U]
                                  keep a running node busy with N clients starting payments (or
                                  whole flows); print throughput, errors and latency percentiles
  paywire admin-user ...          back-office users: create, list, password, roles, disable, enable,
                                  reset-second-factor

Run "paywire <command> -h" for the flags of a command.
`

// run executes one command and returns the exit code: 0 on success, 1 when
// the command failed, 2 for a usage error. Errors are printed to stderr as
// one line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr, getenv)
	case "healthcheck":
		err = runHealthcheck(ctx, rest)
	case "policy":
		err = runPolicy(ctx, rest, stdout, os.Stdin, getenv)
	case "merchant":
		err = runMerchant(ctx, rest, stdout, stderr, getenv)
	case "list":
		err = runList(ctx, rest, stdout, getenv)
	case "review":
		err = runReview(ctx, rest, stdout, getenv)
	case "audit":
		err = runAudit(ctx, rest, stdout, getenv)
	case "admin-user":
		err = runAdminUser(ctx, rest, stdout, getenv)
	case "simulate":
		err = runSimulate(ctx, rest, stdout, getenv)
	case "loadgen":
		err = runLoadgen(ctx, rest, stdout, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "paywire: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "paywire %s: %v\n", args[0], ue.error)
		return 2
	default:
		fmt.Fprintf(stderr, "paywire %s: %v\n", args[0], err)
		return 1
	}
}

// usageError marks a mistake in the command line.
type usageError struct{ error }

// printFlags writes the flags of a command, for -h.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
	fs.SetOutput(w)
	fs.PrintDefaults()
}

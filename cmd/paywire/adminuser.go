package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

const adminUserUsage = `Usage:
  paywire admin-user create --username U --role R [--role R]...
                                      create a back-office user; prints a generated password once
  paywire admin-user list             list users, their roles and second factor
  paywire admin-user password --username U
                                      set a new generated password (printed once); ends nothing else
  paywire admin-user roles --username U --role R [--role R]...
                                      replace the user's roles
  paywire admin-user disable|enable --username U
                                      disabling ends the user's sessions at once
  paywire admin-user reset-second-factor --username U
                                      remove the user's TOTP second factor (a lost phone)

Roles: admin, risk_analyst, compliance, support, viewer. Every command
takes --db (or PAYWIRE_DB); every change is written to the audit log as
operator:cli. PAYWIRE_NEW_PASSWORD, when set, is the password instead of a
generated one (create, password).
`

func runAdminUser(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{errors.New("say create, list, password, roles, disable, enable or reset-second-factor\n\n" + adminUserUsage)}
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, adminUserUsage)
		return nil
	case "create", "list", "password", "roles", "disable", "enable", "reset-second-factor":
	default:
		return usageError{fmt.Errorf("unknown admin-user command %q\n\n%s", sub, adminUserUsage)}
	}
	fs := flag.NewFlagSet("paywire admin-user "+sub, flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	username := fs.String("username", "", "the user")
	var roles stringList
	fs.Var(&roles, "role", "a role: admin, risk_analyst, compliance, support or viewer; repeat for more (create, roles)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if sub != "list" && *username == "" {
		return usageError{errors.New("--username is required")}
	}
	if (sub == "create" || sub == "roles") && len(roles) == 0 {
		return usageError{errors.New("--role is required")}
	}
	st, err := openMigrated(ctx, *db, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	password := func() (string, string, error) {
		pw := getenv("PAYWIRE_NEW_PASSWORD")
		if pw == "" {
			pw = credential.NewSecret()[:20]
		}
		hash, err := credential.Hash(pw, credential.Default)
		return pw, hash, err
	}
	audit := func(action, target string, details map[string]any) *paywire.AuditEntry {
		d, _ := json.Marshal(details) // plain values always marshal
		return &paywire.AuditEntry{Actor: cliActor, Action: action, Target: target, Details: d}
	}
	switch sub {
	case "create":
		pw, hash, err := password()
		if err != nil {
			return err
		}
		u := &paywire.AdminUser{Username: *username, PasswordHash: hash, Roles: roles}
		if err := st.CreateAdminUser(ctx, u); err != nil {
			return errorText(err)
		}
		if err := st.Audit(ctx, audit("admin_user.create", u.Username, map[string]any{"after": map[string]any{"roles": u.Roles}})); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s created with roles %s\npassword (shown once): %s\n", u.Username, strings.Join(u.Roles, ", "), pw)
		return nil
	case "list":
		us, err := st.AdminUsers(ctx)
		if err != nil {
			return errorText(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLES\tSECOND FACTOR\tSTATUS")
		for _, u := range us {
			second, status := "off", "active"
			if u.TOTPSecret != "" {
				second = "on"
			}
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, strings.Join(u.Roles, ","), second, status)
		}
		return tw.Flush()
	case "password":
		pw, hash, err := password()
		if err != nil {
			return err
		}
		if err := st.SetAdminPassword(ctx, *username, hash); err != nil {
			return errorText(err)
		}
		if err := st.Audit(ctx, audit("admin_user.password", *username, nil)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new password of %s (shown once): %s\n", *username, pw)
		return nil
	}
	u, err := st.AdminUserByName(ctx, *username)
	if err != nil {
		return errorText(err)
	}
	before := map[string]any{"roles": u.Roles, "disabled": u.Disabled, "second_factor": u.TOTPSecret != ""}
	next := *u
	switch sub {
	case "roles":
		next.Roles = slices.Clone(roles)
	case "disable":
		next.Disabled = true
	case "enable":
		next.Disabled = false
	case "reset-second-factor":
		next.TOTPSecret = ""
	}
	after := map[string]any{"roles": next.Roles, "disabled": next.Disabled, "second_factor": next.TOTPSecret != ""}
	if err := st.UpdateAdminUser(ctx, &next, audit("admin_user.update", u.Username, map[string]any{"before": before, "after": after})); err != nil {
		return errorText(err)
	}
	fmt.Fprintf(stdout, "user %s: roles %s, %s, second factor %v\n", next.Username, strings.Join(next.Roles, ","),
		map[bool]string{true: "disabled", false: "active"}[next.Disabled], map[bool]string{true: "on", false: "off"}[next.TOTPSecret != ""])
	return nil
}

// Package store keeps Paywire's data in PostgreSQL (bun with pgdialect over
// the pgx stdlib driver) or SQLite (bun with sqlitedialect over the pure-Go
// modernc driver, the embedded default). It implements the storage
// interfaces of package paywire and owns the schema and its migrations.
//
// Each exported method owns its transaction and gives it one timestamp.
// The store enforces the domain's transition table and invariants on every
// write, whatever its caller decided; it knows nothing of the engine.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/paywire/paywire"
)

// Dialect names the database behind a DB.
type Dialect string

// The supported databases.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is Paywire's database. It is safe for concurrent use.
type DB struct {
	bun     *bun.DB
	dialect Dialect
	// Now returns the current time; tests replace it. Every transaction
	// reads it once.
	Now func() time.Time
	// stmts holds the statements prepare keeps, by text.
	stmts sync.Map
	// reads are the texts of the reads a payment's pages and calls make
	// most, each run prepared (scanPrepared).
	reads hotReads
}

// hotReads are the statements of the reads made on nearly every request
// about a payment, written once per database with $1, $2 ... for their
// values, so that each is parsed and planned once per connection rather
// than on every call: on PostgreSQL, planning a read of payments (which
// has many indexes to weigh) costs more than running it. Each reads by
// key (a primary key or the payment's own rows), whose plan, once the
// table has statistics, does not depend on the values. A customer's deposit
// methods are read with the features (a column of their statement):
// prepared alone, PostgreSQL planned them for their values on every call.
type hotReads struct {
	payment  string // $1 id, $2 merchant
	events   string // $1 payment, $2 merchant
	attempts string // $1 merchant, $2 payment
}

func newHotReads(b *bun.DB) hotReads {
	return hotReads{
		payment: b.NewSelect().Model((*paymentRow)(nil)).Where("id = $1 AND merchant_id = $2").String(),
		events:  b.NewSelect().Model((*eventRow)(nil)).Where("payment_id = $1 AND merchant_id = $2").Order("seq").String(),
		attempts: b.NewSelect().Model((*attemptRow)(nil)).Where("merchant_id = $1 AND payment_id = $2").
			OrderExpr("n").String(),
	}
}

// Interfaces the DB implements.
var (
	_ paywire.PaymentStore     = (*DB)(nil)
	_ paywire.MerchantStore    = (*DB)(nil)
	_ paywire.AdminStore       = (*DB)(nil)
	_ paywire.DecisionStore    = (*DB)(nil)
	_ paywire.OutboxStore      = (*DB)(nil)
	_ paywire.AuditLog         = (*DB)(nil)
	_ paywire.AttemptStore     = (*DB)(nil)
	_ paywire.FollowUpStore    = (*DB)(nil)
	_ paywire.IdempotencyStore = (*DB)(nil)
)

// Open connects to the database named by dsn and checks that it can be
// reached. A dsn starting with postgres:// or postgresql:// is PostgreSQL;
// anything else is the path of a SQLite file (an optional "sqlite:" prefix
// is removed), whose directory is created when missing. Open does not
// migrate; call Migrate.
//
// Errors are meant to be shown to an operator as one line: an invalid URL,
// an unreachable server or an unwritable path each say so.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if dsn == "" {
		return nil, errors.New("no database given")
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	if strings.Contains(dsn, "://") {
		u, _ := url.Parse(dsn)
		scheme := strings.SplitN(dsn, "://", 2)[0]
		if u != nil {
			scheme = u.Scheme
		}
		return nil, fmt.Errorf("unsupported database URL scheme %q: use postgres://... or a SQLite file path", scheme)
	}
	return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL URL: %v", redactURLError(err))
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL URL %s: %v", redact(u), redactURLError(err))
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		// bun writes values into the statement's text, so nearly every
		// statement is new: pgx's default (prepare and cache each one)
		// would cost a round trip to prepare and a cache entry per
		// statement. Exec sends it unprepared in one round trip; the few
		// statements with parameters whose plan is worth keeping are
		// prepared once per connection (DB.prepare).
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	sqldb := stdlib.OpenDB(*cfg)
	// As many kept idle as may be open: with fewer, a busy node closes
	// and reopens connections all the time (about 20 a second at 16
	// clients), and each new one costs PostgreSQL a backend process and
	// its caches, and the node its prepared statements.
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(20)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %v", redact(u), pingReason(err))
	}
	return newDB(bun.NewDB(sqldb, pgdialect.New()), Postgres), nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("empty SQLite path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the SQLite directory %s: %v", dir, unwrapPathError(err))
		}
	}
	// WAL lets readers run beside the writer; immediate transactions take
	// the write lock up front, so that two writers queue on busy_timeout
	// instead of failing when a reader upgrades.
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("cannot open SQLite database %s: %v", path, err)
	}
	sqldb.SetMaxOpenConns(8)
	// A ping does not touch the file; creating the schema table does, and
	// fails early and clearly on an unwritable path.
	if _, err := sqldb.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations ("+schemaTableColumns+")"); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("cannot open SQLite database %s: %v", path, sqliteReason(err))
	}
	return newDB(bun.NewDB(sqldb, sqlitedialect.New()), SQLite), nil
}

func newDB(b *bun.DB, d Dialect) *DB {
	return &DB{bun: b, dialect: d, Now: time.Now, reads: newHotReads(b)}
}

// Dialect returns which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Bun returns the underlying bun handle, for packages of this module that
// keep tables of their own (none yet outside store).
func (db *DB) Bun() *bun.DB { return db.bun }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.bun.PingContext(ctx) }

// Close closes the kept statements and the connection pool.
func (db *DB) Close() error {
	db.stmts.Range(func(_, s any) bool {
		s.(*sql.Stmt).Close()
		return true
	})
	return db.bun.Close()
}

// prepare returns query prepared, kept for the DB's life: database/sql then
// prepares it once on each connection that runs it. For the few statements
// whose text is one of a small set, with parameters, and whose preparing
// (or, on PostgreSQL, planning) costs more than their execution: pgx sends
// every other statement unprepared.
func (db *DB) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.bun.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if kept, loaded := db.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return kept.(*sql.Stmt), nil
	}
	return s, nil
}

// scanPrepared runs query (one of hotReads) with args as a prepared
// statement and scans its rows into dest as bun's Scan would; with one row
// wanted (dest a pointer to a struct), none is sql.ErrNoRows.
func (db *DB) scanPrepared(ctx context.Context, query string, dest any, args ...any) error {
	stmt, err := db.prepare(ctx, query)
	if err != nil {
		return err
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if v := reflect.ValueOf(dest); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return sql.ErrNoRows
		}
		if err := db.bun.ScanRow(ctx, rows, dest); err != nil {
			return err
		}
		return rows.Close()
	}
	return db.bun.ScanRows(ctx, rows, dest)
}

// now returns the time a transaction records: UTC, to the microsecond, which
// both databases keep exactly.
func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }

// inTx runs fn in a transaction, committed when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx bun.Tx) error) error {
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return fn(tx) })
}

// classify turns a driver error into a paywire error: unique violations
// become ECONFLICT, foreign-key violations ENOTFOUND, lost connections
// EUNAVAILABLE; anything else EINTERNAL. The driver text goes only into Err,
// never into the caller-facing message.
func classify(op string, err error, conflictMsg string) error {
	if err == nil {
		return nil
	}
	var pe *paywire.Error
	if errors.As(err, &pe) {
		if pe.Op == "" {
			pe.Op = op
		}
		return pe
	}
	e := &paywire.Error{Op: op, Err: err, Code: paywire.EINTERNAL, Message: "internal error"}
	var pgErr *pgconn.PgError
	var sqErr *sqlite.Error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		e.Code, e.Message = paywire.ENOTFOUND, "not found"
	case errors.As(err, &pgErr) && pgErr.Code == "23505",
		errors.As(err, &sqErr) && (sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		e.Code, e.Message = paywire.ECONFLICT, conflictMsg
	case errors.As(err, &pgErr) && pgErr.Code == "23503",
		errors.As(err, &sqErr) && sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		e.Code, e.Message = paywire.ENOTFOUND, "a referenced record does not exist"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Message = paywire.EUNAVAILABLE, "the database did not answer in time"
	case pgconn.SafeToRetry(err), errors.Is(err, sql.ErrConnDone):
		e.Code, e.Message = paywire.EUNAVAILABLE, "the database is unavailable"
	}
	return e
}

// redact returns the URL without its password, for messages.
func redact(u *url.URL) string {
	c := *u
	if _, ok := c.User.Password(); ok {
		c.User = url.UserPassword(c.User.Username(), "xxxxx")
	}
	c.RawQuery = ""
	return c.String()
}

// redactURLError drops the URL (which may hold a password) that url and
// pgconn errors repeat.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	msg := err.Error()
	if i := strings.Index(msg, "postgres"); i >= 0 && strings.Contains(msg[i:], "@") {
		return "cannot parse the connection string"
	}
	return msg
}

func pingReason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	// pgx reports one line per address it tried; the first says enough.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func sqliteReason(err error) string {
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqlite.ErrorCodeString[sqErr.Code()]
	}
	return err.Error()
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

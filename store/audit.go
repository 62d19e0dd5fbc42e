package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paywire/paywire"
)

// The audit log is a hash chain. Each row stores prev_hash, the hash of the
// row before it, and hash, the lower-case hex SHA-256 of the canonical JSON
// (defined below) of the array
//
//	["paywire-audit-1", prev_hash, id, at, actor, action, target, details]
//
// where at is the row's time in UTC as RFC 3339 with as many fractional
// digits as it has (time.RFC3339Nano; the store keeps microseconds) and
// details is the canonical JSON of the row's details. The first row ever
// has prev_hash "". Rows from before the chain (written before migration
// 0013) store no hash: the chain is computed over them all the same, and
// the first chained row's prev_hash is the hash of the last of them.
//
// Canonical JSON is JSON without whitespace in which
//   - object members are sorted by the bytes of their UTF-8 keys;
//   - strings are their UTF-8 bytes with only '"', '\\' and U+0000-U+001F
//     escaped: \b \f \n \r \t for those five, \u00xx (lower-case hex) for
//     the others, nothing else (no \u escapes for other characters, no
//     escaped '/');
//   - numbers are their exact decimal value with no exponent, no '+', no
//     leading zeros other than the one before a '.', no trailing zeros
//     after it, no '.' in an integer and "0" for any zero (1.50e2 is 150);
//   - true, false and null are themselves.
//
// Why re-canonicalise on read instead of hashing the text stored: on
// PostgreSQL details is JSONB, which keeps the value but not the text (it
// sorts keys its own way, adds spaces, turns \u00e9 into é and 1e2 into
// 100). Canonical JSON depends only on the value, so details read back from
// JSONB hash as written. SQLite keeps the canonical text the store wrote
// byte for byte (an object is never taken for a number by the column's
// affinity). The writer refuses what JSONB would not keep as it is:
// duplicate keys, U+0000, numbers of more than maxCanonicalNumber
// characters; and details that are not an object.
const auditChainTag = "paywire-audit-1"

// maxCanonicalNumber bounds the canonical text of a number in details.
const maxCanonicalNumber = 100

// maxDetailsDepth bounds the nesting of details.
const maxDetailsDepth = 64

// auditHeadRow is the head of the chain: one row, locked by every append.
type auditHeadRow struct {
	bun.BaseModel `bun:"table:audit_chain"`

	ID        int    `bun:"id,pk"`
	GenesisID int64  `bun:"genesis_id"` // the last row from before the chain; 0 when there was none
	LastID    int64  `bun:"last_id"`
	LastHash  string `bun:"last_hash"` // "" until the first chained row
}

// appendAudit is the only way a row enters audit_log. It appends e at the
// end of the chain in the caller's transaction, which must be the one that
// makes the change e reports, and fills e's ID and At (at, to the
// microsecond) and its Details (canonical).
//
// Appends are serialised on the chain's head: on PostgreSQL by SELECT ...
// FOR UPDATE of its one row, held to the end of tx, so that appends from
// any number of transactions and nodes form one chain (the second waits,
// then reads the first's head); SQLite runs one writing transaction at a
// time already (Open makes them immediate). The new row's id is the head's
// last id + 1, so chained ids are consecutive; a rolled back append takes
// its id and the head back with it.
func appendAudit(ctx context.Context, tx bun.Tx, at time.Time, e *paywire.AuditEntry) error {
	switch {
	case e.Actor == "" || e.Action == "":
		return paywire.Errorf(paywire.EINVALID, "an audit entry needs an actor and an action")
	case !auditText(e.Actor) || !auditText(e.Action) || !auditText(e.Target):
		return paywire.Errorf(paywire.EINVALID, "audit actor, action and target must be UTF-8 text without NUL")
	}
	details, err := canonicalDetails(e.Details)
	if err != nil {
		return &paywire.Error{Code: paywire.EINVALID, Message: "audit details: " + err.Error(), Err: err}
	}
	head := new(auditHeadRow)
	q := tx.NewSelect().Model(head).Where("id = 1")
	if tx.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return fmt.Errorf("reading the audit chain's head: %w", err)
	}
	prev := head.LastHash
	if prev == "" && head.GenesisID > 0 {
		// The first chained row seals the rows from before the chain.
		if prev, err = sealPreChain(ctx, tx, head.GenesisID); err != nil {
			return err
		}
	}
	row := &auditRow{
		ID: head.LastID + 1, At: at.UTC().Truncate(time.Microsecond), Actor: e.Actor, Action: e.Action, Target: e.Target,
		Details: string(details), PrevHash: prev,
	}
	row.Hash = auditHash(prev, row, details)
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return err
	}
	res, err := tx.NewUpdate().Model((*auditHeadRow)(nil)).Set("last_id = ?", row.ID).Set("last_hash = ?", row.Hash).
		Where("id = 1 AND last_id = ?", head.LastID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return paywire.Errorf(paywire.ECONFLICT, "the audit chain moved meanwhile")
	}
	e.ID, e.At, e.Details = row.ID, row.At, json.RawMessage(details)
	return nil
}

func auditText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// auditHash returns the hash of row after prev; details is the canonical
// JSON of the row's details.
func auditHash(prev string, r *auditRow, details []byte) string {
	b := make([]byte, 0, 128+len(r.Actor)+len(r.Action)+len(r.Target)+len(details))
	b = append(b, '[')
	b = appendCanonicalString(b, auditChainTag)
	b = append(b, ',')
	b = appendCanonicalString(b, prev)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, ',')
	b = appendCanonicalString(b, r.At.UTC().Format(time.RFC3339Nano))
	for _, s := range []string{r.Actor, r.Action, r.Target} {
		b = append(b, ',')
		b = appendCanonicalString(b, s)
	}
	b = append(b, ',')
	b = append(b, details...)
	b = append(b, ']')
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// storedAuditHash recomputes the hash of a row as read back.
func storedAuditHash(prev string, r *auditRow) string {
	return auditHash(prev, r, canonicalStored(r.Details))
}

// sealPreChain returns the chain's hash over the rows from before it: the
// prev_hash of the first chained row.
func sealPreChain(ctx context.Context, idb bun.IDB, genesisID int64) (string, error) {
	prev := ""
	err := scanAudit(ctx, idb, 0, genesisID, func(r *auditRow) error {
		prev = storedAuditHash(prev, r)
		return nil
	})
	return prev, err
}

// scanAudit calls fn with the rows whose ids are in (after, upTo], in id
// order, reading them a page at a time. Rows never change, so pages read
// in separate statements are consistent.
func scanAudit(ctx context.Context, idb bun.IDB, after, upTo int64, fn func(r *auditRow) error) error {
	const page = 1000
	for {
		var rows []auditRow
		err := idb.NewSelect().Model(&rows).Where("id > ? AND id <= ?", after, upTo).Order("id").Limit(page).Scan(ctx)
		if err != nil {
			return err
		}
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
			after = rows[i].ID
		}
		if len(rows) < page {
			return nil
		}
	}
}

// AuditCheck is what VerifyAudit found.
type AuditCheck struct {
	// Checked counts the rows whose hashes were recomputed, up to the
	// first broken one; PreChain counts those from before the chain.
	Checked  int
	PreChain int
	// GenesisID is the last row from before the chain (0: none).
	GenesisID int64
	// HeadID and HeadHash are the newest row's, as the chain's head
	// records them when the check began.
	HeadID   int64
	HeadHash string
	// FirstBad is the first row that breaks the chain, 0 when none does;
	// Problem says how.
	FirstBad int64
	Problem  string
}

// OK says whether the chain holds.
func (c AuditCheck) OK() bool { return c.FirstBad == 0 && c.Problem == "" }

// VerifyAudit recomputes the audit log's hash chain, from the first row to
// the newest the chain's head records when it begins (rows appended
// meanwhile are left for the next check), and reports the first row that
// breaks it: a row changed after it was written, a row removed (chained
// ids are consecutive), a row whose prev_hash does not link to the row
// before it (that one rewritten with a new hash), or rows removed from the
// end (the head records a later row). A broken chain is a result, not an
// error; the error is for a database that cannot be read.
//
// Rows from before the chain are checked only through the first chained
// row, which links to them all; while none exists, they are not checked.
func (db *DB) VerifyAudit(ctx context.Context) (AuditCheck, error) {
	const op = "store/DB.VerifyAudit"
	var head auditHeadRow
	if err := db.bun.NewSelect().Model(&head).Where("id = 1").Scan(ctx); err != nil {
		return AuditCheck{}, classify(op, err, "")
	}
	c := AuditCheck{GenesisID: head.GenesisID, HeadID: head.LastID, HeadHash: head.LastHash}
	errBroken := errors.New("broken")
	broken := func(id int64, format string, args ...any) error {
		c.FirstBad, c.Problem = id, fmt.Sprintf(format, args...)
		return errBroken
	}
	prev, lastID := "", int64(0)
	err := scanAudit(ctx, db.bun, 0, head.LastID, func(r *auditRow) error {
		h := storedAuditHash(prev, r)
		if r.ID <= head.GenesisID {
			c.Checked++
			c.PreChain++
			prev, lastID = h, r.ID
			return nil
		}
		switch want := max(lastID, head.GenesisID) + 1; {
		case r.ID != want:
			return broken(want, "row %d is missing (chained rows have consecutive ids): it was removed", want)
		case r.PrevHash != prev && r.ID == head.GenesisID+1 && head.GenesisID > 0:
			return broken(r.ID, "its prev_hash does not match the rows from before the chain: one of them was changed or removed")
		case r.PrevHash != prev:
			return broken(r.ID, "its prev_hash does not link to row %d: that row was rewritten together with its hash, or this row's prev_hash was changed", lastID)
		case r.Hash != h:
			return broken(r.ID, "its content does not match its hash: it was changed after it was written")
		}
		c.Checked++
		prev, lastID = h, r.ID
		return nil
	})
	switch {
	case errors.Is(err, errBroken):
		return c, nil
	case err != nil:
		return c, classify(op, err, "")
	case head.LastHash == "":
		// Nothing chained yet.
	case lastID < head.LastID:
		c.FirstBad, c.Problem = lastID+1, fmt.Sprintf("rows %d to %d, which the chain's head records, are missing: they were removed from the end", lastID+1, head.LastID)
	case prev != head.LastHash:
		c.Checked--
		c.FirstBad, c.Problem = lastID, "its hash is not the one the chain's head records: it was rewritten together with its hash"
	}
	return c, nil
}

// AuditRecord is an audit entry with its place in the chain.
type AuditRecord struct {
	paywire.AuditEntry
	PrevHash string // "" for the first row and rows from before the chain
	Hash     string // "" for rows from before the chain
}

// AuditRecords returns up to limit entries with their hashes, newest first,
// with IDs below before (0 for the newest), as AuditEntries does.
func (db *DB) AuditRecords(ctx context.Context, before int64, limit int) ([]AuditRecord, error) {
	var rows []auditRow
	q := db.bun.NewSelect().Model(&rows).Order("id DESC").Limit(int64(limit))
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, classify("store/DB.AuditRecords", err, "")
	}
	out := make([]AuditRecord, len(rows))
	for i, r := range rows {
		out[i] = AuditRecord{
			AuditEntry: paywire.AuditEntry{ID: r.ID, At: r.At.UTC(), Actor: r.Actor, Action: r.Action, Target: r.Target, Details: json.RawMessage(r.Details)},
			PrevHash:   r.PrevHash, Hash: r.Hash,
		}
	}
	return out, nil
}

// canonicalDetails checks the details of a new entry and returns their
// canonical JSON; empty or null details are {}.
func canonicalDetails(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return []byte("{}"), nil
	}
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return nil, errors.New("must be JSON")
	}
	if raw[0] != '{' {
		return nil, errors.New("must be a JSON object")
	}
	return canonicalJSON(raw, true)
}

// canonicalStored returns the canonical JSON of details as stored. It does
// not refuse what canonicalDetails would: the rows from before the chain
// were written without its checks. What is not JSON at all is hashed as a
// JSON string of its text.
func canonicalStored(details string) []byte {
	b, err := canonicalJSON([]byte(details), false)
	if err != nil {
		return appendCanonicalString(nil, details)
	}
	return b
}

// canonicalJSON returns the canonical JSON of the one JSON value in raw.
// Strict refuses duplicate keys, U+0000 in strings and numbers longer than
// maxCanonicalNumber in canonical form; otherwise duplicates are kept in
// order and such numbers keep their text.
func canonicalJSON(raw []byte, strict bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	out, err := appendCanonicalValue(nil, dec, strict, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("must be one JSON value")
	}
	return out, nil
}

func appendCanonicalValue(b []byte, dec *json.Decoder, strict bool, depth int) ([]byte, error) {
	if depth > maxDetailsDepth {
		return nil, fmt.Errorf("nest at most %d deep", maxDetailsDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '[':
			b = append(b, '[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					b = append(b, ',')
				}
				if b, err = appendCanonicalValue(b, dec, strict, depth+1); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return append(b, ']'), nil
		case '{':
			type member struct {
				key   string
				value []byte
			}
			var ms []member
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				if strict && strings.ContainsRune(k, 0) {
					return nil, errors.New("must not contain U+0000")
				}
				val, err := appendCanonicalValue(nil, dec, strict, depth+1)
				if err != nil {
					return nil, err
				}
				ms = append(ms, member{k, val})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
			b = append(b, '{')
			for i, m := range ms {
				if i > 0 {
					if strict && m.key == ms[i-1].key {
						return nil, fmt.Errorf("key %q appears twice", m.key)
					}
					b = append(b, ',')
				}
				b = appendCanonicalString(b, m.key)
				b = append(b, ':')
				b = append(b, m.value...)
			}
			return append(b, '}'), nil
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		if strict && strings.ContainsRune(v, 0) {
			return nil, errors.New("must not contain U+0000")
		}
		return appendCanonicalString(b, v), nil
	case json.Number:
		n, err := canonicalNumber(string(v))
		if err != nil {
			if strict {
				return nil, err
			}
			n = string(v)
		}
		return append(b, n...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case nil:
		return append(b, "null"...), nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// appendCanonicalString appends s as a canonical JSON string. It works on
// bytes, so that text that is not UTF-8 still has one encoding.
func appendCanonicalString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// canonicalNumber returns the canonical form of a JSON number literal: its
// exact decimal value, without exponent or superfluous zeros.
func canonicalNumber(lit string) (string, error) {
	mant, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e, err := strconv.Atoi(lit[i+1:])
		if err != nil || e > 10*maxCanonicalNumber || e < -10*maxCanonicalNumber {
			return "", fmt.Errorf("number %s is too large or too small", lit)
		}
		mant, exp = lit[:i], e
	}
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	exp -= len(frac) // the value is digits × 10^exp
	if digits == "" {
		return "0", nil
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	var s string
	switch {
	case exp >= 0:
		s = digits + strings.Repeat("0", exp)
	case -exp < len(digits):
		s = digits[:len(digits)+exp] + "." + digits[len(digits)+exp:]
	default:
		s = "0." + strings.Repeat("0", -exp-len(digits)) + digits
	}
	if len(s) > maxCanonicalNumber {
		return "", fmt.Errorf("number %s has more than %d digits", lit, maxCanonicalNumber)
	}
	if neg {
		s = "-" + s
	}
	return s, nil
}

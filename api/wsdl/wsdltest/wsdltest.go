// Package wsdltest checks XML documents with xmllint (Debian package
// libxml2-utils) for the tests of the SOAP packages: well-formedness, and
// validity against the schemas of package wsdl. Tests skip when xmllint is
// not installed, unless PAYWIRE_TEST_XMLLINT=1 is set, as in CI, where a
// missing xmllint must not let schema checks pass unnoticed. It is for tests
// only and must not be imported by production code.
package wsdltest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv names the environment variable that turns a missing xmllint
// from a skip into a failure.
const RequireEnv = "PAYWIRE_TEST_XMLLINT"

// Xmllint returns the path of xmllint. When it is not on PATH it skips the
// test, or fails it if RequireEnv is "1".
func Xmllint(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("xmllint")
	if err == nil {
		return path
	}
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("xmllint is not on PATH but %s=1 requires it; install it with: apt-get install -y --no-install-recommends libxml2-utils", RequireEnv)
	}
	tb.Skipf("xmllint is not on PATH, so XML is not checked against the schema; install libxml2-utils (or set %s=1 to fail instead of skipping)", RequireEnv)
	return ""
}

// Validate checks doc against the XML Schema schema with xmllint. It returns
// nil when doc is valid and otherwise an error carrying xmllint's report, so
// that a test may also assert that an invalid document is refused. It skips
// the test as Xmllint does.
func Validate(tb testing.TB, schema, doc []byte) error {
	tb.Helper()
	xmllint := Xmllint(tb)
	dir := tb.TempDir()
	schemaFile := writeFile(tb, dir, "schema.xsd", schema)
	docFile := writeFile(tb, dir, "doc.xml", doc)
	return run(xmllint, "--noout", "--nonet", "--schema", schemaFile, docFile)
}

// WellFormed checks with xmllint that doc is well-formed XML. It skips the
// test as Xmllint does.
func WellFormed(tb testing.TB, doc []byte) error {
	tb.Helper()
	xmllint := Xmllint(tb)
	return run(xmllint, "--noout", "--nonet", writeFile(tb, tb.TempDir(), "doc.xml", doc))
}

// CompileSchema checks with xmllint that schema is a valid XML Schema, by
// validating a document that cannot be valid: xmllint reports a schema that
// does not compile differently from an instance that does not validate.
func CompileSchema(tb testing.TB, schema []byte) error {
	tb.Helper()
	err := Validate(tb, schema, []byte(`<notInTheSchema xmlns="urn:wsdltest:none"/>`))
	if err == nil {
		return fmt.Errorf("xmllint accepted a document the schema does not declare")
	}
	if msg := err.Error(); strings.Contains(msg, "failed to compile") || strings.Contains(msg, "Schemas parser error") {
		return err
	}
	return nil
}

func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func run(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("xmllint %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return nil
}

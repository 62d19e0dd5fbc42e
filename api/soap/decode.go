package soap

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxDepth is the element nesting depth Decode allows when asked for
// none. The Envelope counts as depth 1; Paywire's deepest message,
// Envelope/Header/Security/UsernameToken/Username, is 5 deep.
const DefaultMaxDepth = 32

// Request is a decoded request envelope.
type Request struct {
	Version Version

	// UsernameToken is the WS-Security UsernameToken of the Header, nil when
	// the request carries none.
	UsernameToken *UsernameToken

	// Name is the name of the Body's element, the operation of a
	// document/literal wrapped request, with its namespace resolved.
	Name xml.Name

	// Body is the Body's element as a standalone document, ready for
	// xml.Unmarshal: the bytes of the request, with the namespace
	// declarations it inherited from the Envelope and Body declared again on
	// it, so that its prefixes resolve as they did in the envelope.
	Body []byte
}

// UsernameToken is the credential of a WS-Security UsernameToken.
type UsernameToken struct {
	Username string
	Password string

	// PasswordType is the Type of the Password element. Decode accepts only
	// PasswordText, which is also what an omitted Type means, so it is
	// always PasswordText; it is kept so that callers can record how a
	// client authenticated.
	PasswordType string
}

// Decode reads a SOAP 1.1 or SOAP 1.2 request envelope from r.
//
// It reads XML as a stream of tokens and never builds a tree: a document
// that nests elements deeper than maxDepth (DefaultMaxDepth when maxDepth <
// 1) is refused as soon as the decoder reaches that depth. It refuses DTDs
// and any other <!...> declaration, so no entity is ever declared or
// expanded, and processing instructions other than the XML declaration,
// which SOAP forbids. The input must be UTF-8 (or its ASCII subset), as
// WS-I Basic Profile asks.
//
// The envelope must be an Envelope with an optional Header and a Body that
// holds exactly one element. Header blocks addressed to this node that are
// marked mustUnderstand are refused with CodeMustUnderstand, except the
// WS-Security Security header, whose UsernameToken is returned; header
// blocks that are not mandatory are ignored.
//
// Decode does not bound the size of the input: the caller must, and should
// use http.MaxBytesReader, whose limit Decode reports as CodeTooLarge. It
// keeps a copy of the bytes read to cut the body element from. Every error
// is an *Error.
func Decode(r io.Reader, maxDepth int) (*Request, error) {
	if maxDepth < 1 {
		maxDepth = DefaultMaxDepth
	}
	br := bufio.NewReader(r)
	// A UTF-8 byte order mark is allowed before the XML declaration, but
	// encoding/xml would read it as text; drop it before the decoder and
	// the copy see it, so that offsets into the copy stay right.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	d := &decoder{maxDepth: maxDepth}
	d.x = xml.NewDecoder(io.TeeReader(br, &d.src))
	d.x.CharsetReader = charsetReader
	return d.envelope()
}

type decoder struct {
	x        *xml.Decoder
	src      bytes.Buffer // every byte the decoder has read
	maxDepth int
	depth    int
	tokens   int
	version  Version
	scope    []xml.Attr // namespace declarations of the Envelope and Body, outermost first
}

// next returns the next token and enforces the rules that hold everywhere
// in the document: depth, no declarations, no processing instructions.
func (d *decoder) next() (xml.Token, error) {
	t, err := d.x.Token()
	if err != nil {
		return nil, d.readError(err)
	}
	d.tokens++
	switch t := t.(type) {
	case xml.StartElement:
		d.depth++
		if d.depth > d.maxDepth {
			return nil, errorf(CodeMalformed, d.version, nil, "elements are nested deeper than %d levels", d.maxDepth)
		}
	case xml.EndElement:
		d.depth--
	case xml.Directive:
		return nil, errorf(CodeMalformed, d.version, nil, "DTDs and other <!...> declarations are not allowed in a SOAP message")
	case xml.ProcInst:
		if t.Target != "xml" || d.tokens != 1 {
			return nil, errorf(CodeMalformed, d.version, nil, "processing instructions are not allowed in a SOAP message")
		}
	}
	return t, nil
}

// readError turns an error of the XML decoder into an *Error whose message
// is safe for the client; the original goes into Err for logs.
func (d *decoder) readError(err error) error {
	var syntax *xml.SyntaxError
	var tooLarge *http.MaxBytesError
	switch {
	case err == io.EOF:
		// Callers that expect more input turn EOF into their own error.
		return io.EOF
	case errors.As(err, &tooLarge):
		return errorf(CodeTooLarge, d.version, err, "the request is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, errEncoding):
		return errorf(CodeMalformed, d.version, err, "the request must be encoded in UTF-8")
	case errors.As(err, &syntax):
		return errorf(CodeMalformed, d.version, err, "the request is not well-formed XML (line %d)", syntax.Line)
	}
	return errorf(CodeMalformed, d.version, err, "the request could not be read")
}

// content reports whether t is anything but a comment, white space or the
// XML declaration (next refuses any other processing instruction): those
// may appear between the elements of an envelope and mean nothing there.
func content(t xml.Token) bool {
	switch t := t.(type) {
	case xml.Comment, xml.ProcInst:
		return false
	case xml.CharData:
		return len(bytes.TrimLeft(t, " \t\r\n")) > 0
	}
	return true
}

func (d *decoder) envelope() (*Request, error) {
	var root xml.StartElement
	for {
		t, err := d.next()
		if err == io.EOF {
			if d.tokens == 0 {
				return nil, errorf(CodeMalformed, 0, nil, "the request is empty")
			}
			return nil, errorf(CodeMalformed, 0, nil, "the request holds no XML element")
		}
		if err != nil {
			return nil, err
		}
		if start, ok := t.(xml.StartElement); ok {
			root = start
			break
		}
		if content(t) {
			return nil, errorf(CodeMalformed, 0, nil, "the request has text before its root element")
		}
	}

	if root.Name.Local != "Envelope" {
		return nil, errorf(CodeMalformed, 0, nil, "the root element is <%s>, not a SOAP Envelope", shorten(root.Name.Local))
	}
	switch root.Name.Space {
	case NamespaceSOAP11:
		d.version = V11
	case NamespaceSOAP12:
		d.version = V12
	default:
		return nil, errorf(CodeVersionMismatch, 0, nil,
			"the Envelope is in neither the SOAP 1.1 namespace (%s) nor the SOAP 1.2 namespace (%s)",
			NamespaceSOAP11, NamespaceSOAP12)
	}
	d.declare(root)

	req := &Request{Version: d.version}
	ns := root.Name.Space
	seenHeader, seenBody := false, false
	for {
		t, err := d.next()
		if err == io.EOF {
			return nil, errorf(CodeMalformed, d.version, nil, "the request ends inside the Envelope")
		}
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			switch {
			case t.Name == xml.Name{Space: ns, Local: "Header"} && !seenHeader && !seenBody:
				seenHeader = true
				if err := d.header(req); err != nil {
					return nil, err
				}
			case t.Name == xml.Name{Space: ns, Local: "Body"} && !seenBody:
				seenBody = true
				d.declare(t)
				if err := d.body(req); err != nil {
					return nil, err
				}
			default:
				return nil, errorf(CodeMalformed, d.version, nil,
					"unexpected element <%s> in the Envelope, which holds an optional Header and then one Body", shorten(t.Name.Local))
			}
		case xml.EndElement:
			if !seenBody {
				return nil, errorf(CodeMalformed, d.version, nil, "the Envelope has no Body")
			}
			if err := d.epilogue(); err != nil {
				return nil, err
			}
			return req, nil
		default:
			if content(t) {
				return nil, errorf(CodeMalformed, d.version, nil, "the Envelope holds text; it may hold only a Header and a Body")
			}
		}
	}
}

// epilogue checks that nothing but comments and white space follow the
// Envelope: encoding/xml would go on returning a second root element.
func (d *decoder) epilogue() error {
	for {
		t, err := d.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if content(t) {
			return errorf(CodeMalformed, d.version, nil, "the request goes on after the Envelope")
		}
	}
}

// declare records the namespace declarations of an ancestor of the body
// element, to be declared again on it.
func (d *decoder) declare(start xml.StartElement) {
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			d.scope = append(d.scope, a)
		}
	}
}

// header reads the Header's blocks, up to and including its end tag.
func (d *decoder) header(req *Request) error {
	depth := d.depth
	var notUnderstood []xml.Name
	sawSecurity := false
	for d.depth >= depth {
		t, err := d.next()
		if err == io.EOF {
			return errorf(CodeMalformed, d.version, nil, "the request ends inside the Header")
		}
		if err != nil {
			return err
		}
		block, ok := t.(xml.StartElement)
		if !ok {
			if content(t) && d.depth >= depth {
				return errorf(CodeMalformed, d.version, nil, "the Header holds text; it may hold only header blocks")
			}
			continue
		}
		targeted, mandatory, err := d.addressing(block)
		if err != nil {
			return err
		}
		switch {
		case !targeted:
			err = d.skip()
		case block.Name == xml.Name{Space: NamespaceWSSE, Local: "Security"}:
			if sawSecurity {
				return errorf(CodeInvalidSecurity, d.version, nil, "the request has more than one WS-Security header for this service")
			}
			sawSecurity = true
			req.UsernameToken, err = d.security()
		case mandatory:
			notUnderstood = append(notUnderstood, block.Name)
			err = d.skip()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	if len(notUnderstood) > 0 {
		e := errorf(CodeMustUnderstand, d.version, nil, "mandatory header block <%s> is not understood", shorten(notUnderstood[0].Local))
		if len(notUnderstood) > 1 {
			e.Message = "mandatory header blocks are not understood: " + joinNames(notUnderstood)
		}
		e.NotUnderstood = notUnderstood
		return e
	}
	return nil
}

func joinNames(names []xml.Name) string {
	const max = 8
	var parts []string
	for i, n := range names {
		if i == max {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, "<"+shorten(n.Local)+">")
	}
	return strings.Join(parts, ", ")
}

// addressing reports whether a header block is addressed to this node,
// the ultimate receiver, and whether it must be understood. A block for
// another actor (SOAP 1.1) or role (SOAP 1.2) is not ours to process, even
// if it is mandatory.
func (d *decoder) addressing(block xml.StartElement) (targeted, mandatory bool, err error) {
	ns := d.version.Namespace()
	targeted = true
	for _, a := range block.Attr {
		if a.Name.Space != ns {
			continue
		}
		value := strings.TrimSpace(a.Value)
		switch a.Name.Local {
		case "mustUnderstand":
			switch value {
			case "1", "true":
				mandatory = true
			case "0", "false":
			default:
				return false, false, errorf(CodeMalformed, d.version, nil, "mustUnderstand must be 0, 1, false or true")
			}
		case "actor":
			if d.version == V11 {
				targeted = value == "http://schemas.xmlsoap.org/soap/actor/next"
			}
		case "role":
			if d.version == V12 {
				targeted = value == "http://www.w3.org/2003/05/soap-envelope/role/next" ||
					value == "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
			}
		}
	}
	return targeted, mandatory, nil
}

// skip consumes the element whose start tag was just read, with
// everything in it.
func (d *decoder) skip() error {
	depth := d.depth
	for d.depth >= depth {
		if _, err := d.next(); err != nil {
			if err == io.EOF {
				return errorf(CodeMalformed, d.version, nil, "the request ends inside an element")
			}
			return err
		}
	}
	return nil
}

// security reads a wsse:Security header block and returns its
// UsernameToken, nil if it has none. Other security tokens (timestamps,
// signatures) are skipped: Paywire authenticates with the UsernameToken or
// HTTP Basic only, and never trusts what it does not check.
func (d *decoder) security() (*UsernameToken, error) {
	depth := d.depth
	var token *UsernameToken
	for d.depth >= depth {
		t, err := d.next()
		if err == io.EOF {
			return nil, errorf(CodeMalformed, d.version, nil, "the request ends inside the Security header")
		}
		if err != nil {
			return nil, err
		}
		start, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name != (xml.Name{Space: NamespaceWSSE, Local: "UsernameToken"}) {
			if err := d.skip(); err != nil {
				return nil, err
			}
			continue
		}
		if token != nil {
			return nil, errorf(CodeInvalidSecurity, d.version, nil, "the Security header has more than one UsernameToken")
		}
		if token, err = d.usernameToken(); err != nil {
			return nil, err
		}
	}
	return token, nil
}

func (d *decoder) usernameToken() (*UsernameToken, error) {
	depth := d.depth
	var user, password *string
	passwordType := PasswordText
	for d.depth >= depth {
		t, err := d.next()
		if err == io.EOF {
			return nil, errorf(CodeMalformed, d.version, nil, "the request ends inside the UsernameToken")
		}
		if err != nil {
			return nil, err
		}
		start, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		var field **string
		switch start.Name {
		case xml.Name{Space: NamespaceWSSE, Local: "Username"}:
			field = &user
		case xml.Name{Space: NamespaceWSSE, Local: "Password"}:
			field = &password
			for _, a := range start.Attr {
				if a.Name == (xml.Name{Local: "Type"}) {
					passwordType = strings.TrimSpace(a.Value)
				}
			}
		default:
			// Nonce and Created matter only to digests, which are refused.
			if err := d.skip(); err != nil {
				return nil, err
			}
			continue
		}
		if *field != nil {
			return nil, errorf(CodeInvalidSecurity, d.version, nil, "the UsernameToken has more than one <%s>", start.Name.Local)
		}
		text, err := d.text()
		if err != nil {
			return nil, err
		}
		*field = &text
	}
	switch {
	case user == nil:
		return nil, errorf(CodeInvalidSecurity, d.version, nil, "the UsernameToken has no Username")
	case password == nil:
		return nil, errorf(CodeInvalidSecurity, d.version, nil, "the UsernameToken has no Password")
	case passwordType == PasswordDigest:
		return nil, errorf(CodeUnsupportedSecurity, d.version, nil,
			"WS-Security PasswordDigest is not supported; send the password as PasswordText over HTTPS, or use HTTP Basic authentication")
	case passwordType != PasswordText:
		return nil, errorf(CodeUnsupportedSecurity, d.version, nil, "the UsernameToken password type is not supported; use PasswordText")
	}
	// Credentials are compared exactly as sent: no white space is trimmed.
	return &UsernameToken{Username: *user, Password: *password, PasswordType: passwordType}, nil
}

// text returns the character data of the element whose start tag was just
// read, which must hold no elements, and consumes its end tag.
func (d *decoder) text() (string, error) {
	var b strings.Builder
	for {
		t, err := d.next()
		if err == io.EOF {
			return "", errorf(CodeMalformed, d.version, nil, "the request ends inside an element")
		}
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", errorf(CodeInvalidSecurity, d.version, nil, "<%s> must hold text only", shorten(t.Name.Local))
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

// body reads the Body, up to and including its end tag, and cuts its one
// element out of the input.
func (d *decoder) body(req *Request) error {
	depth := d.depth
	found := false
	for {
		offset := d.x.InputOffset()
		t, err := d.next()
		if err == io.EOF {
			return errorf(CodeMalformed, d.version, nil, "the request ends inside the Body")
		}
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.StartElement:
			if found {
				return errorf(CodeMalformed, d.version, nil, "the Body holds more than one element; it must hold exactly one")
			}
			found = true
			if err := d.skip(); err != nil {
				return err
			}
			req.Name = t.Name
			req.Body = d.standalone(t, d.src.Bytes()[offset:d.x.InputOffset()])
		case xml.EndElement:
			if d.depth < depth {
				if !found {
					return errorf(CodeMalformed, d.version, nil, "the Body is empty; it must hold the operation's element")
				}
				return nil
			}
		default:
			if content(t) {
				return errorf(CodeMalformed, d.version, nil, "the Body holds text; it must hold exactly one element")
			}
		}
	}
}

// standalone returns raw, the bytes of element start and its content, with
// the namespace declarations in scope from its ancestors added to its start
// tag, except those it makes itself.
func (d *decoder) standalone(start xml.StartElement, raw []byte) []byte {
	own := make(map[string]bool)
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "xmlns":
			own["xmlns:"+a.Name.Local] = true
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			own["xmlns"] = true
		}
	}
	// Later (inner) declarations of a prefix override earlier ones.
	inherited := make(map[string]string)
	var order []string
	for _, a := range d.scope {
		name := "xmlns"
		if a.Name.Space == "xmlns" {
			name += ":" + a.Name.Local
		}
		if own[name] {
			continue
		}
		if _, ok := inherited[name]; !ok {
			order = append(order, name)
		}
		inherited[name] = a.Value
	}
	// The tag name ends at the first white space, '/' or '>'; the decoder
	// has checked that raw is a well-formed element, so there is one.
	end := bytes.IndexAny(raw, " \t\r\n/>")
	var b bytes.Buffer
	b.Grow(len(raw) + 64*len(order))
	b.Write(raw[:end])
	for _, name := range order {
		b.WriteString(" " + name + `="`)
		_ = xml.EscapeText(&b, []byte(inherited[name])) // a bytes.Buffer never fails to write
		b.WriteByte('"')
	}
	b.Write(raw[end:])
	return b.Bytes()
}

// charsetReader lets the decoder accept the declared encodings that are
// UTF-8 or a subset of it, and refuse all others.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	}
	return nil, errEncoding
}

var errEncoding = errors.New("soap: the declared encoding is not UTF-8")

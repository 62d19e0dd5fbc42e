package soap

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxAnswer bounds the answer Call reads.
const maxAnswer = 1 << 20

// FaultError is a fault a SOAP service answered with: its HTTP status and
// the code and message of its detail (pw:fault), as clients branch on them.
type FaultError struct {
	Status  int
	Code    string
	Message string
}

func (f *FaultError) Error() string { return f.Code + ": " + f.Message }

// Call is a client's request: it posts in, encoded by encoding/xml, in a
// SOAP 1.1 envelope to endpoint with SOAPAction action and, when username
// is not empty, a WS-Security UsernameToken with a PasswordText password,
// and decodes the answer's body element into out. A fault comes back as a
// *FaultError; an answer that is not an envelope, or larger than 1 MiB, as
// an error naming the HTTP status. hc nil is a client with a 30 s timeout.
func Call(ctx context.Context, hc *http.Client, endpoint, action, username, password string, in, out any) error {
	body, err := xml.Marshal(in)
	if err != nil {
		return err
	}
	var env bytes.Buffer
	env.WriteString(`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="` + NamespaceSOAP11 + `">`)
	if username != "" {
		env.WriteString(`<s:Header><wsse:Security xmlns:wsse="` + NamespaceWSSE + `"><wsse:UsernameToken><wsse:Username>`)
		_ = xml.EscapeText(&env, []byte(username))
		env.WriteString(`</wsse:Username><wsse:Password Type="` + PasswordText + `">`)
		_ = xml.EscapeText(&env, []byte(password))
		env.WriteString(`</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header>`)
	}
	env.WriteString(`<s:Body>`)
	env.Write(body)
	env.WriteString(`</s:Body></s:Envelope>`)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, &env)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+action+`"`)
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	dec, err := Decode(io.LimitReader(res.Body, maxAnswer), 0)
	if err != nil {
		return fmt.Errorf("the answer to %s is not a SOAP envelope (HTTP %d)", action, res.StatusCode)
	}
	if dec.Name.Local == "Fault" {
		var f struct {
			Code    string `xml:"detail>fault>code"`
			Code12  string `xml:"Detail>fault>code"`
			Message string `xml:"detail>fault>message"`
			Msg12   string `xml:"Detail>fault>message"`
			String  string `xml:"faultstring"`
		}
		_ = xml.Unmarshal(dec.Body, &f)
		fe := &FaultError{Status: res.StatusCode, Code: f.Code + f.Code12, Message: f.Message + f.Msg12}
		if fe.Message == "" {
			fe.Message = f.String
		}
		return fe
	}
	return xml.Unmarshal(dec.Body, out)
}

package traffic

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strings"
)

// Form is an HTML form of a page, as a browser would submit it.
type Form struct {
	Action string // as written; resolve it against the page's URL
	Method string // upper case; GET when the form names none
	// Fields are the values the form submits as it stands: hidden and
	// text inputs with their value, checked radio buttons and check boxes.
	Fields url.Values
	// Options are the values of each radio button group, in page order.
	Options map[string][]string
	// Buttons are the named submit buttons, in page order; pressing one
	// adds its name and value to Fields.
	Buttons []Button
}

// Button is a named submit button.
type Button struct{ Name, Value string }

// HasButton reports whether the form has the button name=value.
func (f *Form) HasButton(name, value string) bool {
	for _, b := range f.Buttons {
		if b.Name == name && b.Value == value {
			return true
		}
	}
	return false
}

// Values returns the form's fields with those of set replacing theirs:
// what a browser submits once the user filled in set.
func (f *Form) Values(set url.Values) url.Values {
	v := url.Values{}
	for k, vs := range f.Fields {
		v[k] = append([]string(nil), vs...)
	}
	for k, vs := range set {
		v[k] = append([]string(nil), vs...)
	}
	return v
}

// readPage finds the forms and links of an HTML page. It reads HTML as
// browsers tolerate it (void elements, attributes without values, HTML
// entities); anything it cannot read ends the reading, keeping what was
// found.
func readPage(body []byte) (forms []Form, links []string) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var cur *Form
	for {
		tok, err := d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) && cur != nil {
				forms = append(forms, *cur)
			}
			return forms, links
		}
		switch t := tok.(type) {
		case xml.StartElement:
			attr := func(name string) (string, bool) {
				for _, a := range t.Attr {
					if strings.EqualFold(a.Name.Local, name) {
						return a.Value, true
					}
				}
				return "", false
			}
			switch strings.ToLower(t.Name.Local) {
			case "form":
				if cur != nil {
					forms = append(forms, *cur)
				}
				action, _ := attr("action")
				method, _ := attr("method")
				if method == "" {
					method = "GET"
				}
				cur = &Form{Action: action, Method: strings.ToUpper(method), Fields: url.Values{}, Options: map[string][]string{}}
			case "input":
				name, _ := attr("name")
				if cur == nil || name == "" {
					continue
				}
				value, _ := attr("value")
				typ, _ := attr("type")
				_, checked := attr("checked")
				switch strings.ToLower(typ) {
				case "radio":
					cur.Options[name] = append(cur.Options[name], value)
					if checked {
						cur.Fields.Set(name, value)
					}
				case "checkbox":
					if checked {
						cur.Fields.Add(name, value)
					}
				case "submit":
					cur.Buttons = append(cur.Buttons, Button{Name: name, Value: value})
				default:
					cur.Fields.Add(name, value)
				}
			case "button":
				name, _ := attr("name")
				typ, _ := attr("type")
				if cur != nil && name != "" && (typ == "" || strings.EqualFold(typ, "submit")) {
					value, _ := attr("value")
					cur.Buttons = append(cur.Buttons, Button{Name: name, Value: value})
				}
			case "a":
				if href, ok := attr("href"); ok && href != "" {
					links = append(links, href)
				}
			}
		case xml.EndElement:
			if strings.EqualFold(t.Name.Local, "form") && cur != nil {
				forms = append(forms, *cur)
				cur = nil
			}
		}
	}
}

package api

import (
	"reflect"
	"strings"

	"github.com/paywire/paywire"
)

// checkText refuses a decoded request whose strings could not be stored or
// shown as text (paywire.ValidText): a NUL byte, a control character or
// invalid UTF-8 anywhere — an end user's name, a reference, a URL. Both
// transports call it on what they decoded, before any use case sees it;
// the error names the field, never its value.
func checkText(v any) error {
	if field, ok := findBadText(reflect.ValueOf(v), ""); !ok {
		return paywire.Errorf(paywire.EINVALID, "%s contains a NUL byte, a control character or invalid UTF-8", field)
	}
	return nil
}

func findBadText(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		if !paywire.ValidText(v.String()) {
			return path, false
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return findBadText(v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if f, ok := findBadText(v.Index(i), path); !ok {
				return f, false
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if !paywire.ValidText(it.Key().String()) {
				return path, false
			}
			if f, ok := findBadText(it.Value(), path); !ok {
				return f, false
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			if f, ok := findBadText(v.Field(i), join(path, fieldName(sf))); !ok {
				return f, false
			}
		}
	}
	return "", true
}

// fieldName is the name a client knows a field by: its JSON or XML name.
func fieldName(sf reflect.StructField) string {
	for _, key := range []string{"json", "xml"} {
		name, _, _ := strings.Cut(sf.Tag.Get(key), ",")
		if i := strings.LastIndexByte(name, ' '); i >= 0 { // "namespace local"
			name = name[i+1:]
		}
		if name != "" && name != "-" {
			return name
		}
	}
	return sf.Name
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

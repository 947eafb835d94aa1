package experiment

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"
)

// ResumeDiff lists, one line each, the settings in which now differs from
// was (the experiment a run was started with) that change the run's
// results. It ignores what does not: the name (the run directory is
// chosen by it), where the data lives (Dataset.Name and Path), the report,
// and searches present in only one of the two (a new search starts fresh,
// a dropped one is not continued).
func ResumeDiff(was, now *Experiment) []string {
	return ResumeDiffStarted(was, now, func(string) bool { return true })
}

// ResumeDiffStarted is ResumeDiff ignoring the searches that have not
// started (started(name) false): nothing of theirs has run, so their
// settings, plugins included, may still change.
func ResumeDiffStarted(was, now *Experiment, started func(search string) bool) []string {
	a, b := *was, *now
	for _, e := range []*Experiment{&a, &b} {
		e.Name, e.Dataset.Name, e.Dataset.Path = "", "", ""
		e.Report = Report{}
		e.Searches = nil
	}
	var d []string
	diff(&d, "", reflect.ValueOf(a), reflect.ValueOf(b))
	for _, s := range was.Searches {
		for _, t := range now.Searches {
			if s.Name == t.Name && started(s.Name) {
				diff(&d, fmt.Sprintf("search %q ", s.Name), reflect.ValueOf(s), reflect.ValueOf(t))
			}
		}
	}
	return d
}

// key turns a Go field name into the .eas spelling (WeightDecay ->
// weight_decay), which is what the user edited.
func key(field string) string {
	var b strings.Builder
	for i, r := range field {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func diff(out *[]string, path string, a, b reflect.Value) {
	if s, ok := a.Interface().(fmt.Stringer); ok && a.Kind() == reflect.Struct { // ir.Arch: compare as written
		if t := b.Interface().(fmt.Stringer); s.String() != t.String() {
			*out = append(*out, fmt.Sprintf("%s: %s -> %s", path, s, t))
		}
		return
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			p := key(f.Name)
			if path != "" && !strings.HasSuffix(path, " ") {
				p = path + "." + p
			} else {
				p = path + p
			}
			diff(out, p, a.Field(i), b.Field(i))
		}
	case reflect.Slice:
		if a.Len() != b.Len() {
			*out = append(*out, fmt.Sprintf("%s: %v -> %v", path, a.Interface(), b.Interface()))
			return
		}
		for i := 0; i < a.Len(); i++ {
			diff(out, fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) && (a.Len() > 0 || b.Len() > 0) {
			*out = append(*out, fmt.Sprintf("%s: %v -> %v", path, a.Interface(), b.Interface()))
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: %v -> %v", path, a.Interface(), b.Interface()))
		}
	}
}

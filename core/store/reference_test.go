package store

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestReferenceNamesEveryRecordField: docs/reference/run-directory.md names,
// in code quotes, every field of a networks.jsonl record, so a new field
// cannot land undocumented.
func TestReferenceNamesEveryRecordField(t *testing.T) {
	const path = "../../docs/reference/run-directory.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rt := reflect.TypeOf(Record{})
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s does not describe the record field %q (add it to the records table)", path, name)
		}
	}
	for _, k := range []Kind{KindSample, KindStart, KindStageStart, KindControl, KindFinal} {
		if !strings.Contains(string(doc), "`"+string(k)+"`") {
			t.Errorf("%s does not name the record kind %q", path, k)
		}
	}
}

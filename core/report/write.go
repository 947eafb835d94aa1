package report

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/store"
)

// Tables returns the tables the report asks for (all when it names none).
func Tables(ss []Search, r experiment.Report, every int) []Table {
	want := want(r.Tables)
	all := len(want) == 0
	var out []Table
	if all || want["summary"] {
		out = append(out, Summary(ss))
	}
	if all || want["networks"] || want["summary"] {
		out = append(out, TopNetworks(ss, 5))
	}
	if (all && len(ss) > 1) || want["rl_vs_random"] {
		out = append(out, Compare(ss, every))
	}
	// The differences and their intervals accompany the summary and the
	// comparison: a table of accuracies alone invites reading noise as gain.
	if all || want["summary"] || want["rl_vs_random"] || want["comparison"] {
		if c := Comparison(ss); len(c.Rows) > 0 {
			out = append(out, c)
		}
	}
	for _, name := range []string{"table2", "table3", "table4"} {
		if want[name] || (all && len(r.Reference) > 0 && name == "table2") {
			out = append(out, PaperTable(name, ss, r.Reference))
		}
	}
	return out
}

func want(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Write prints the tables to w and writes report.md, one CSV per table and
// the plots into dir. It returns the files written.
func Write(w io.Writer, dir string, ss []Search, r experiment.Report, every int) ([]string, error) {
	tables := Tables(ss, r, every)
	formats := map[string]bool{}
	for _, f := range r.Formats {
		formats[f] = true
	}
	if len(formats) == 0 {
		for _, f := range []string{"text", "markdown", "csv", "png", "svg"} {
			formats[f] = true
		}
	}
	var files []string
	var md bytes.Buffer
	fmt.Fprintf(&md, "# Report\n\n")
	fid, verdicts := fidelitySections(ss)
	md.WriteString(fid)
	for _, v := range verdicts {
		if formats["text"] && w != nil {
			fmt.Fprintf(w, "%s\n\n", v)
		}
	}
	for _, t := range tables {
		if formats["text"] && w != nil {
			if err := t.Text(w); err != nil {
				return files, err
			}
			fmt.Fprintln(w)
		}
		t.Markdown(&md)
		if formats["csv"] {
			path := filepath.Join(dir, t.Name+".csv")
			var b bytes.Buffer
			if err := t.CSV(&b); err != nil {
				return files, err
			}
			if err := store.WriteFileAtomic(path, b.Bytes()); err != nil {
				return files, err
			}
			files = append(files, path)
		}
	}
	if claims := Claims(ss); len(claims) > 0 && (len(want(r.Tables)) == 0 || want(r.Tables)["summary"] || want(r.Tables)["rl_vs_random"] || want(r.Tables)["comparison"]) {
		fmt.Fprintf(&md, "### What this run shows\n\n")
		for _, c := range claims {
			fmt.Fprintf(&md, "- %s\n", c)
			if formats["text"] && w != nil {
				fmt.Fprintln(w, c)
			}
		}
		fmt.Fprintln(&md)
		if formats["text"] && w != nil {
			fmt.Fprintln(w)
		}
	}
	var imgs []string
	for _, f := range []string{"png", "svg"} {
		if formats[f] {
			imgs = append(imgs, f)
		}
	}
	plots := map[string]bool{}
	for _, p := range r.Plots {
		plots[p] = true
	}
	if len(plots) == 0 {
		plots["progress"], plots["rl_vs_random"] = true, len(ss) > 1
	}
	if len(imgs) > 0 {
		if plots["progress"] {
			for _, s := range ss {
				fs, err := ProgressPlot(s, dir, imgs)
				if err != nil {
					return files, err
				}
				files = append(files, fs...)
				fmt.Fprintf(&md, "![progress of %s](%s.png)\n\n", s.Name, progressStem(s))
			}
		}
		if plots["rl_vs_random"] {
			fs, err := ComparePlot(ss, dir, imgs)
			if err != nil {
				return files, err
			}
			files = append(files, fs...)
			fmt.Fprintf(&md, "![RL versus random](rl_vs_random.png)\n\n")
		}
	}
	if formats["markdown"] {
		path := filepath.Join(dir, "report.md")
		if err := store.WriteFileAtomic(path, md.Bytes()); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

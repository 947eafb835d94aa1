// Package dashboard is the read-only web dashboard of `easrun serve` and
// `easrun FILE.eas --serve ADDR`: the runs under a folder, each run's
// Figure 4 and 5 plots and report tables, a sortable, filterable, paged
// table of its networks, one page per network (record, lineage back to the
// start network, layer table, checkpoint and PyTorch export downloads) and
// the queue and workers of a distributed run. Pages update live: a watcher
// stats the run files twice a second and tells browsers over server-sent
// events, which then fetch the changed page once (at most once a second).
//
// Read-only: run directories are only ever opened for reading (records are
// parsed here, incrementally, instead of through store.Open, which repairs
// torn lines and creates folders). The one thing the server writes is the
// PyTorch export cache, in a folder it owns outside every run directory.
// URLs never carry file paths: runs, searches and networks are looked up by
// name or number among what the server found, and a checkpoint a record
// names is served only when it resolves (symlinks included) inside its run.
//
// Dependencies: net/http, html/template and embed only. Plots are SVG drawn
// here (svg.go): no charting library, nothing fetched from the network at
// run time (users' machines are often offline), and a page with 100,000
// networks stays small because the plots thin their points per pixel column.
// The checks that need the DSL, the IR or the exporter (budget, layer table,
// PyTorch export) are passed in by the CLI as functions (Options), so this
// package imports only core/store, core/report and core/experiment.
package dashboard

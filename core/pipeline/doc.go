// Package pipeline runs an experiment from end to end: it owns the run
// directory (lock, experiment copy, run.json hashes, versions.json), loads
// the data, trains or resumes the start network, runs every search (each
// repeat in its own directory) through core/search, trains the top networks
// of each search again on the full data (final), and refuses a resume whose
// inputs changed anything that changes results.
//
// The CLI parses flags and wires: it passes the parsed experiment, the data
// loader, the engine, a factory for the evaluator and the plugin host in a
// Config, and writes the report afterwards. Everything the pipeline decides
// is here, so other front ends (the web dashboard, tests) run the same
// experiment the same way.
package pipeline

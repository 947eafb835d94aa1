// Package store owns the durable run directory of one search:
//
//	runs/<experiment>/<search>/
//	  networks.jsonl      every sampled network, one JSON record per line, appended and fsynced
//	  controller.json     the controller state after the last finished episode (atomic replace)
//	  checkpoints/        safetensors files of networks worth keeping (written by the search)
//	  experiment.eas      the resolved experiment file, and versions.json
//
// The experiment's folder (runs/<experiment>/) also holds run.json
// (Manifest: SHA-256 of the run's experiment.eas and start network, taken
// when they were written, checked on resume) and .lock (TryLock: an flock
// held while a process works on the run, so a second process fails at once
// naming the holder; the kernel releases it when the holder dies).
//
// Every write reports its failure: Append undoes a partially written line
// (a full disk) so the file never holds a torn record in its middle, and
// WriteFileAtomic also reports a failed sync of the folder.
//
// Why JSON lines with fsync rather than SQLite: no cgo and no extra
// dependency, a record is visible in any editor or with jq, appends are
// atomic enough for our needs (a crash can tear only the last line, which
// Open detects and drops), and the volume is tiny (hundreds of records).
//
// store imports only the standard library and core/ir; checkpoints are
// written by their own package.
package store

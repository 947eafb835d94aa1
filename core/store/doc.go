// Package store owns the durable run directory of one search:
//
//	runs/<experiment>/<search>/
//	  networks.jsonl      every sampled network, one JSON record per line, appended and fsynced
//	  controller.json     the controller state after the last finished episode (atomic replace)
//	  checkpoints/        safetensors files of networks worth keeping (written by the search)
//	  experiment.eas      the resolved experiment file, and versions.json
//
// Why JSON lines with fsync rather than SQLite: no cgo and no extra
// dependency, a record is visible in any editor or with jq, appends are
// atomic enough for our needs (a crash can tear only the last line, which
// Open detects and drops), and the volume is tiny (hundreds of records).
//
// store imports only the standard library and core/ir; checkpoints are
// written by their own package.
package store

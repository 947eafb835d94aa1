// Package ir owns the architecture description and the graph IR that every
// other part of eas shares.
//
// Two levels:
//   - Arch: the layer list a user writes (C, P, FC, SM, DO, GAP, DB, T).
//     Layers are numbered from 1 in written order; transforms and
//     controllers address layers by that number.
//   - Graph: the lowered DAG with explicit BatchNorm, ReLU, dropout and
//     concatenation nodes, shapes inferred, parameters named. The training
//     engine executes a Graph; checkpoints store its parameters by name.
//
// Layer kinds are data: the table in kinds.go (KindInfo) drives parsing
// (dsl hands it the written arguments), checking, lowering, printing and
// depth; names.go holds the parameter-name helpers every other package uses.
//
// ir imports only the standard library: no parser (that is package dsl),
// no engine, no protobuf.
package ir

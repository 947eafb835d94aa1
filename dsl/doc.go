// Package dsl owns eas's two languages, both parsed with participle/v2:
// architecture strings ("C(16,3,1) P(2,2,MAX) ... SM(10)") and .eas experiment
// files. It turns text into core/ir.Arch and core/experiment.Experiment and
// reports every problem as a diag.Diagnostic with file:line:column, the
// source line and a caret. It must not import the engine, plugins or search.
package dsl

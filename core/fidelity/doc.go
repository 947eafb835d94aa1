// Package fidelity measures whether a search's reward ranks children as
// longer training would, before the budget is spent: it samples children the
// way the search's first episode would, trains each (and the control) at the
// child schedule with several data-order seeds and at a longer reference
// schedule, and reports rank correlations with bootstrap intervals, the seed
// noise of a gain against the spread between children, the validation set's
// binomial error, and a plain verdict with options and their measured cost.
//
// Run does the training through a search.Evaluator; Analyze is a pure
// function of the scores, so the statistics are tested without training.
package fidelity

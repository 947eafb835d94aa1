// Package evaltest is the conformance suite of search.Evaluator: every
// evaluator (search.Local, search.Virtual, core/dist's NATS evaluator, and
// any new one) passes Run. It writes the contract of search.Evaluator down as
// checks: one Outcome per job in job order, done called once per job and
// never concurrently, trained weights returned in Outcome.Weights (names and
// shapes of the job's), a failed job failing alone, the same job giving the
// same accuracy, a canceled context ending the call promptly.
package evaltest

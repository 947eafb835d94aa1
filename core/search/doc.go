// Package search owns the EAS episode loop: for each step of an episode the
// controller proposes actions for M networks grown from the stage's start
// network, the transforms apply them, an Evaluator trains each child (its
// weights reused from the parent) and its validation accuracy becomes the
// reward; the controller updates once per episode. Stages retrain the best
// network as the next start point; final training evaluates the top
// networks on the test set.
//
// Everything a search produces goes to a store.Store as it happens, so a
// killed run resumes: the controller state is saved after every episode,
// and the episode in progress is replayed deterministically (the
// controller's RNG is part of its state, transform seeds derive from the
// search seed and the network's position), reusing every network already
// recorded instead of retraining it.
//
// Repeated architectures: like the authors' code, a network whose canonical
// architecture was already evaluated in this search is not trained again; its
// earlier accuracy is reused and the record is marked "cached". (Its weights
// would differ, but the reward signal stays consistent and no budget is
// wasted.)
package search

// Package reinforce is the paper's meta-controller: a bidirectional-LSTM
// encoder over the architecture's layer tokens (embedding 16, 50 units per
// direction), a Net2Wider actor (one shared sigmoid classifier per position)
// and a Net2Deeper actor (an LSTM of 100 units started from the encoder's
// final state that chooses a block, a position in it and a kernel size),
// trained with REINFORCE: reward tan(acc*pi/2), an exponential-moving-average
// baseline, Adam (2e-3) and an entropy bonus (1e-5), one update per episode.
//
// The policy network and its gradients are computed with gorgonia; the Adam
// update is written out here so its moments can be saved for resume.
// Networks that failed are left out of the update and of the baseline (a
// failure is not evidence about accuracy). The baseline starts at the first
// episode's mean reward.
package reinforce

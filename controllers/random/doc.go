// Package random is the random-search baseline of the paper's Figure 5: it
// uses the same action space as the RL controller (actspace) with uniform
// choices: every candidate layer of a wider step is widened with probability
// 1/2; a deeper step picks a block, then a position in it, then a kernel
// size, each uniformly.
package random

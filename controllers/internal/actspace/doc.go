// Package actspace turns a step's candidate actions into the structured
// choices both built-in controllers make, so RL and random search share one
// action space: a "multi" step (wider, densewider) decides for every
// candidate layer independently; a "tree" step (deeper, densedeeper and any
// plugin transform) chooses a block, then a position inside it, then an
// option (the kernel size).
package actspace

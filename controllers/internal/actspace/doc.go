// Package actspace turns a step's candidate actions into the structured
// choices both built-in controllers make, so RL and random search share one
// action space. What a step is comes from the transform's sdk.Info and the
// actions' arguments, never from transform names, so plugins get the same
// treatment as built-ins: a sdk.ChooseEach step (wider, densewider) decides
// for every candidate layer independently; a sdk.ChooseOne step (deeper,
// densedeeper and most plugins) chooses a block, then a position inside it,
// then an option (the kernel size, one per size in the search space).
package actspace

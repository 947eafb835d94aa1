package ir

// BatchNorm constants of OpBN: every engine, the float64 reference and the
// transforms (which set BN weights so that a new BN is an identity) use these
// and no copies of their own. Exports write them into the exported model.
const (
	BNEps      = 1e-5 // y = (x - mean) / sqrt(var + BNEps) * gamma + beta
	BNMomentum = 0.1  // running = (1-m)*running + m*batch (PyTorch convention)
)

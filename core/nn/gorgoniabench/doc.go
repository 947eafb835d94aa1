// Package gorgoniabench measures how fast gorgonia.org/gorgonia trains the
// paper's start network (Table 1: four 3x3 conv-BN-ReLU blocks with pooling,
// FC 256, softmax 10; NCHW, float32, input 3x32x32) and, in the same test
// binary, how fast our own engine (core/nn with core/train's SGD) trains the
// same network, so the two img/s figures come from one process on one machine.
//
// One training step is forward, backward (gorgonia's symbolic Grad run by a
// tape machine) and an SGD momentum update (gorgonia's Momentum solver).
//
// The package exists only for that comparison: nothing in the module imports
// it, and it is kept apart from core/nn so that gorgonia and its dependencies
// never become part of the engine. Run
//
//	go test -run '^$' -bench . -benchtime 10x ./core/nn/gorgoniabench/
package gorgoniabench

// Package data owns data sets: readers for CIFAR-10 binary batches, folders
// of images (plain or inside a .tar.gz), IDX files (MNIST, Fashion-MNIST;
// gzip or raw) and SVHN format 2 (.mat, MATLAB v5); a deterministic
// validation hold-out; per-channel normalisation computed on the training
// part; C10+ augmentation (pad 4, random crop, horizontal flip); and
// loaders that prepare batches in the background so training never waits.
//
// Images are kept as uint8 CHW (4x less memory than float32) and converted
// while batching. Bad files produce errors naming the file and the problem.
// data imports core/ir and core/tensor only.
package data

package experiment

import "github.com/eas-go/eas/core/ir"

// Experiment is one whole study.
type Experiment struct {
	Name     string
	Dataset  Dataset
	Start    Start
	Space    ir.Space
	Child    Training // how each sampled network is trained
	Searches []Search
	Final    Final
	Report   Report
}

// Dataset says where data comes from and how it is split and prepared.
type Dataset struct {
	// Kind: "cifar10" (binary batches), "images" (folder per class, or a .tar.gz of it),
	// "idx" (MNIST / Fashion-MNIST), "svhn" (format 2 .mat files).
	Kind string
	// Name is the key used for overrides (--data NAME=PATH, EAS_DATA_<NAME>); defaults to Kind.
	Name string
	Path string
	// Validation images held out of the training set (paper: 5000), chosen with ValidationSeed.
	Validation     int
	ValidationSeed int64
	Augment        bool // C10+: pad 4, random crop, horizontal flip
	// Normalize: "channel" (per-channel mean/std of the training part), "scale" (pixels / 255), "none".
	Normalize string
	// Limit caps the number of training images used (0 = all); for quick runs.
	Limit int
	// InputShape overrides the kind's standard image shape (folders of images of another size).
	InputShape ir.Shape
}

// Start is the search's start point.
type Start struct {
	Arch       ir.Arch
	Input      ir.Shape // filled from the dataset when zero
	Checkpoint string   // safetensors file to load instead of training from scratch
	Train      Training // training of the start network when no checkpoint is given
}

// Training settings (child networks, the start network, final training).
type Training struct {
	Optimizer   string  // "sgd"
	LR          float64 // initial learning rate
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	Schedule    string // "cosine", "constant", "step"
	StepEvery   int    // epochs between decays for "step"
	StepGamma   float64
	Epochs      int
	Batch       int
	Seed        int64
}

// PaperChild is the paper's child-network training: SGD, Nesterov 0.9,
// weight decay 1e-4, batch 64, lr 0.02 with cosine decay, 20 epochs.
func PaperChild() Training {
	return Training{Optimizer: "sgd", LR: 0.02, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4,
		Schedule: "cosine", Epochs: 20, Batch: 64}
}

// StepSpec is a number of consecutive steps of one transform in an episode.
type StepSpec struct {
	Transform string // "wider", "deeper", "densewider", "densedeeper", or a plugin's name
	Count     int
}

// Search is one named search (e.g. "rl" and "random").
type Search struct {
	Name       string
	Controller string            // "reinforce", "random", or a plugin's name
	Settings   map[string]string // controller settings (learning_rate, baseline, entropy, ...)
	Steps      []StepSpec        // paper: wider x4 then deeper x5
	PerEpisode int               // networks sampled per episode (paper: 10)
	Budget     int               // networks per stage (paper: 300 then 150)
	Stages     []Stage           // empty means one stage with Budget
	Seed       int64
	Plugins    []string // extra plugin executables
	Noise      float64  // transform noise; negative = the transforms' default
	// Control trains the identity child (the stage's start network with the
	// child schedule and the children's data order) once per stage, so the
	// report can tell a transformation's gain from the extra training.
	Control bool
	// Repeat runs the search this many times (seeds Seed, Seed+1, ...) for
	// means, standard deviations and confidence intervals; 0 or 1: once.
	Repeat int
	// Fidelity runs the reward-fidelity check (core/fidelity, default
	// settings) before the first episode and records it in the run; dry
	// runs skip it.
	Fidelity bool
	// RewardSeeds scores each child and the control on the mean validation
	// accuracy of this many trainings with different data orders; 0 or 1:
	// one training, as in the paper.
	RewardSeeds int
}

// Seeds is how many data-order seeds score a child (at least 1).
func (s Search) Seeds() int { return max(1, s.RewardSeeds) }

// Runs is how many seeds the search runs with (at least 1).
func (s Search) Runs() int { return max(1, s.Repeat) }

// RunSeed is the seed of run k (1-based) of a repeated search.
func (s Search) RunSeed(k int) int64 { return s.Seed + int64(k-1) }

// Stage is one stage of a multi-stage search: sample Budget networks, then
// train the best for RetrainEpochs and use it as the next stage's start.
type Stage struct {
	Budget        int
	RetrainEpochs int
}

// Final is the training of the best networks after the search.
type Final struct {
	Top      int      // how many of the best networks to train (0 = none)
	Training Training // paper: 300 epochs, lr 0.1
	FullData bool     // train on training + validation images
}

// Report says which tables and plots to produce.
type Report struct {
	Tables    []string // "summary", "rl_vs_random", "table2", ...
	Plots     []string // "progress" (Figure 4), "rl_vs_random" (Figure 5)
	Formats   []string // "text", "markdown", "csv", "png", "svg"
	Reference []Reference
}

// Reference is a published result shown beside ours.
type Reference struct {
	Model  string
	Depth  int     // 0 = unknown
	Params float64 // millions; 0 = unknown
	Error  float64 // test error in percent
	Note   string
}

// Input is the image shape of the dataset: InputShape when set, else the
// kind's standard shape (32x32x3 for cifar10, svhn and images; 28x28x1 for idx).
func (d Dataset) Input() ir.Shape {
	if d.InputShape != (ir.Shape{}) {
		return d.InputShape
	}
	if d.Kind == "idx" {
		return ir.Shape{C: 1, H: 28, W: 28}
	}
	return ir.Shape{C: 3, H: 32, W: 32}
}

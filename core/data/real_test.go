package data

import (
	"os"
	"testing"
	"time"
)

// The real data sets are optional: these tests skip when they are absent,
// and only the quick Fashion-MNIST one runs under -short.

func TestFashionMNIST(t *testing.T) {
	dir := "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
	}
	src, err := Open("idx:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	if src.Train.N != 60000 || src.Test.N != 10000 || src.Train.Shape.H != 28 || src.Train.Shape.C != 1 {
		t.Fatalf("unexpected sizes: %d %d %v", src.Train.N, src.Test.N, src.Train.Shape)
	}
}

func TestSharedCIFAR10Archive(t *testing.T) {
	path := "../../../shared/data/cifar10-images.tar.gz"
	if _, err := os.Stat(path); err != nil {
		t.Skip("shared CIFAR-10 archive absent")
	}
	if testing.Short() {
		t.Skip("decoding 60,000 JPEGs takes a while")
	}
	start := time.Now()
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d + %d images in %v", src.Train.N, src.Test.N, time.Since(start))
	if src.Train.N != 50000 || src.Test.N != 10000 || len(src.Train.ClassNames) != 10 || src.Train.ClassNames[0] != "airplane" {
		t.Fatalf("unexpected: %d %d %v", src.Train.N, src.Test.N, src.Train.ClassNames)
	}
	n := ComputeNorm(src.Train)
	if n.Mean[0] < 0.45 || n.Mean[0] > 0.52 {
		t.Errorf("red mean %.3f, CIFAR-10's is about 0.49", n.Mean[0])
	}
}

func TestClassesOfSharedArchive(t *testing.T) {
	path := "../../../shared/data/cifar10-images.tar.gz"
	if _, err := os.Stat(path); err != nil {
		t.Skip("shared CIFAR-10 archive absent")
	}
	if n, err := Classes("images", path); n != 10 || err != nil {
		t.Fatalf("%d classes, %v", n, err)
	}
}

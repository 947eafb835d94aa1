//go:build !amd64

package nn

// hostFeatures: OpenBLAS's own detection is used off amd64.
func hostFeatures() cpuFeatures { return cpuFeatures{} }

package nn

import "golang.org/x/sys/cpu"

// cpuid executes the CPUID instruction (cpuid_amd64.s).
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// hostFeatures reads this CPU's features; x/sys/cpu already checks that the
// OS saves the AVX and AVX-512 registers.
func hostFeatures() cpuFeatures {
	_, b, c, d := cpuid(0, 0)
	var v [12]byte
	for i := 0; i < 4; i++ {
		v[i], v[4+i], v[8+i] = byte(b>>(8*i)), byte(d>>(8*i)), byte(c>>(8*i))
	}
	x := cpu.X86
	return cpuFeatures{AMD64: true, Vendor: string(v[:]), AVX: x.HasAVX, AVX2: x.HasAVX2, FMA: x.HasFMA,
		AVX512:     x.HasAVX512F && x.HasAVX512CD && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL,
		AVX512BF16: x.HasAVX512BF16}
}

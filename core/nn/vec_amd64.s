#include "textflag.h"

// Each kernel takes n, a positive multiple of 8, and processes 8 floats per
// iteration. Reductions keep two vector accumulators to hide add latency
// when n is a multiple of 16.

// HSUM folds the 8 lanes of Y register r into the low float of X register r,
// using t as scratch.
#define HSUM(r, xr, xt) \
	VEXTRACTF128 $1, r, xt \
	VADDPS       xt, xr, xr \
	VMOVHLPS     xr, xr, xt \
	VADDPS       xt, xr, xr \
	VMOVSHDUP    xr, xt \
	VADDSS       xt, xr, xr

// func scaleShiftReluAVX2(dst, src *float32, n int, a, b float32)
TEXT ·scaleShiftReluAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y0
	VBROADCASTSS b+28(FP), Y1
	VXORPS       Y2, Y2, Y2

ssrloop:
	VMOVUPS     (SI), Y3
	VFMADD213PS Y1, Y0, Y3 // Y3 = Y3*a + b
	VMAXPS      Y3, Y2, Y3 // max(0, Y3); a NaN in Y3 is kept
	VADDPS      Y2, Y3, Y3 // -0 becomes +0, as Go's max gives
	VMOVUPS     Y3, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         ssrloop
	VZEROUPPER
	RET

// func sumShiftAVX2(x *float32, n int, shift float32) (s, ss float32)
TEXT ·sumShiftAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS shift+16(FP), Y0
	VXORPS       Y1, Y1, Y1 // s
	VXORPS       Y2, Y2, Y2 // ss
	VXORPS       Y3, Y3, Y3 // s, second accumulator
	VXORPS       Y4, Y4, Y4 // ss, second accumulator

sspair:
	CMPQ        CX, $16
	JLT         sstail
	VMOVUPS     (SI), Y5
	VMOVUPS     32(SI), Y6
	VSUBPS      Y0, Y5, Y5
	VSUBPS      Y0, Y6, Y6
	VADDPS      Y5, Y1, Y1
	VADDPS      Y6, Y3, Y3
	VFMADD231PS Y5, Y5, Y2
	VFMADD231PS Y6, Y6, Y4
	ADDQ        $64, SI
	SUBQ        $16, CX
	JMP         sspair

sstail:
	TESTQ       CX, CX
	JZ          ssdone
	VMOVUPS     (SI), Y5
	VSUBPS      Y0, Y5, Y5
	VADDPS      Y5, Y1, Y1
	VFMADD231PS Y5, Y5, Y2

ssdone:
	VADDPS Y3, Y1, Y1
	VADDPS Y4, Y2, Y2
	HSUM(Y1, X1, X7)
	HSUM(Y2, X2, X7)
	MOVSS  X1, s+24(FP)
	MOVSS  X2, ss+28(FP)
	VZEROUPPER
	RET

// func reluGradSumsAVX2(x, y, dy *float32, n int, mean float32) (s1, s2 float32)
TEXT ·reluGradSumsAVX2(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DX
	MOVQ         dy+16(FP), BX
	MOVQ         n+24(FP), CX
	VBROADCASTSS mean+32(FP), Y0
	VXORPS       Y1, Y1, Y1 // s1
	VXORPS       Y2, Y2, Y2 // s2
	VXORPS       Y3, Y3, Y3 // zero

rgsloop:
	VMOVUPS     (DX), Y4
	VCMPPS      $0x16, Y3, Y4, Y4 // y > 0 or NaN (not y <= 0)
	VANDPS      (BX), Y4, Y4      // g
	VMOVUPS     (SI), Y5
	VSUBPS      Y0, Y5, Y5        // x - mean
	VADDPS      Y4, Y1, Y1
	VFMADD231PS Y5, Y4, Y2
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, BX
	SUBQ        $8, CX
	JNZ         rgsloop
	HSUM(Y1, X1, X7)
	HSUM(Y2, X2, X7)
	MOVSS       X1, s1+40(FP)
	MOVSS       X2, s2+44(FP)
	VZEROUPPER
	RET

// func bnReluBackAVX2(d, x, y, dy *float32, n int, k, a, bb, mean float32, add int)
TEXT ·bnReluBackAVX2(SB), NOSPLIT, $0-64
	MOVQ         d+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DX
	MOVQ         dy+24(FP), BX
	MOVQ         n+32(FP), CX
	VBROADCASTSS k+40(FP), Y0
	VBROADCASTSS a+44(FP), Y1
	VBROADCASTSS bb+48(FP), Y2
	VBROADCASTSS mean+52(FP), Y3
	MOVQ         add+56(FP), AX
	VXORPS       Y4, Y4, Y4 // zero

brbloop:
	VMOVUPS      (DX), Y5
	VCMPPS       $0x16, Y4, Y5, Y5 // y > 0 or NaN
	VANDPS       (BX), Y5, Y5      // g
	VMOVUPS      (SI), Y6
	VSUBPS       Y3, Y6, Y6        // x - mean
	VSUBPS       Y1, Y5, Y5        // g - a
	VFNMADD231PS Y6, Y2, Y5        // g - a - (x-mean)*bb
	VMULPS       Y0, Y5, Y5
	TESTQ        AX, AX
	JZ           brbstore
	VADDPS       (DI), Y5, Y5

brbstore:
	VMOVUPS Y5, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, BX
	SUBQ    $8, CX
	JNZ     brbloop
	VZEROUPPER
	RET

// func addToAVX2(dst, src *float32, n int)
TEXT ·addToAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

addloop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JNZ     addloop
	VZEROUPPER
	RET

// func max22AVX2(r0, r1, dst *float32, arg *int32, n, i0, w int, ramp *int32)
// 2x2 stride-2 max pooling of one output row: n outputs (a multiple of 8)
// from input rows r0 and r1. arg gets the winner's index inside the image:
// i0 + 2*j plus 0, 1, w or w+1; ties keep the earlier candidate, as the Go
// body does.
TEXT ·max22AVX2(SB), NOSPLIT, $0-64
	MOVQ         r0+0(FP), SI
	MOVQ         r1+8(FP), DX
	MOVQ         dst+16(FP), DI
	MOVQ         arg+24(FP), BX
	MOVQ         n+32(FP), CX
	VPBROADCASTD i0+40(FP), Y13
	MOVQ         ramp+56(FP), AX
	VPADDD       (AX), Y13, Y13 // base index of each output
	MOVQ         w+48(FP), AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11 // w
	INCQ         AX
	VMOVD        AX, X12
	VPBROADCASTD X12, Y12 // w+1
	MOVQ         $1, AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10 // 1
	MOVQ         $16, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14 // 16: base step per 8 outputs

m22loop:
	VMOVUPS   (SI), Y0
	VMOVUPS   32(SI), Y1
	VMOVUPS   (DX), Y2
	VMOVUPS   32(DX), Y3
	VSHUFPS   $0x88, Y1, Y0, Y4 // even columns of r0, in lane order 0 1 4 5 | 2 3 6 7
	VSHUFPS   $0xDD, Y1, Y0, Y5 // odd columns of r0
	VSHUFPS   $0x88, Y3, Y2, Y6 // even columns of r1
	VSHUFPS   $0xDD, Y3, Y2, Y7 // odd columns of r1
	VXORPS    Y8, Y8, Y8        // offset of the winner
	VCMPPS    $0x1e, Y4, Y5, Y9 // candidate > best
	VBLENDVPS Y9, Y5, Y4, Y4
	VBLENDVPS Y9, Y10, Y8, Y8
	VCMPPS    $0x1e, Y4, Y6, Y9
	VBLENDVPS Y9, Y6, Y4, Y4
	VBLENDVPS Y9, Y11, Y8, Y8
	VCMPPS    $0x1e, Y4, Y7, Y9
	VBLENDVPS Y9, Y7, Y4, Y4
	VBLENDVPS Y9, Y12, Y8, Y8
	VPERMPD   $0xd8, Y4, Y4 // back to output order
	VPERMPD   $0xd8, Y8, Y8
	VPADDD    Y13, Y8, Y8
	VMOVUPS   Y4, (DI)
	VMOVDQU   Y8, (BX)
	VPADDD    Y14, Y13, Y13
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $32, DI
	ADDQ      $32, BX
	SUBQ      $8, CX
	JNZ       m22loop
	VZEROUPPER
	RET

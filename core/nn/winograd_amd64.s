#include "textflag.h"

// Winograd F(2x2, 3x3) tile transforms over one row of ntx >= 1 tiles; each
// vector holds one value of 8 images' tiles (see winograd_kernels.go, whose
// Go bodies do the same operations in the same order). Common registers:
// CX tiles left, R8 = ldr and R9 = ldx in bytes, R10 = 3*ldx, R15 = 3*ldr,
// and DI/R12/R13/R14 (or SI/...) the four rows of 4 transformed values
// (xi = 4i+j at row i, column j*ldx).

#define STRIDES \
	MOVQ ntx+16(FP), CX \
	MOVQ ldr+24(FP), R8 \
	SHLQ $2, R8 \
	MOVQ ldx+32(FP), R9 \
	SHLQ $2, R9 \
	LEAQ (R9)(R9*2), R10 \
	LEAQ (R8)(R8*2), R15 \
	MOVQ R9, R11 \
	SHLQ $2, R11

// SIGNMASK sets Y15 to the float sign bit in every lane (for exact negation).
#define SIGNMASK \
	MOVL         $0x80000000, AX \
	MOVQ         AX, X15 \
	VBROADCASTSS X15, Y15

// VROW stores (t0-t2, t1+t2, t2-t1, t1-t3) of Y8..Y11 at p + j*ldx: the row
// pass of B^T d B.
#define VROW(p) \
	VSUBPS  Y10, Y8, Y12 \
	VMOVUPS Y12, (p) \
	VADDPS  Y10, Y9, Y12 \
	VMOVUPS Y12, (p)(R9*1) \
	VSUBPS  Y9, Y10, Y12 \
	VMOVUPS Y12, (p)(R9*2) \
	VSUBPS  Y11, Y9, Y12 \
	VMOVUPS Y12, (p)(R10*1)

// func winoInputAVX2(dst, src *float32, ntx, ldr, ldx int)
TEXT ·winoInputAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	STRIDES
	LEAQ (DI)(R11*1), R12
	LEAQ (R12)(R11*1), R13
	LEAQ (R13)(R11*1), R14

winloop:
	// d1 in Y0..Y3, d2 in Y4..Y7 (columns 0..3 of rows 1 and 2).
	VMOVUPS (SI)(R8*1), Y0
	VMOVUPS 32(SI)(R8*1), Y1
	VMOVUPS 64(SI)(R8*1), Y2
	VMOVUPS 96(SI)(R8*1), Y3
	VMOVUPS (SI)(R8*2), Y4
	VMOVUPS 32(SI)(R8*2), Y5
	VMOVUPS 64(SI)(R8*2), Y6
	VMOVUPS 96(SI)(R8*2), Y7

	// t1 = d1 + d2
	VADDPS Y4, Y0, Y8
	VADDPS Y5, Y1, Y9
	VADDPS Y6, Y2, Y10
	VADDPS Y7, Y3, Y11
	VROW(R12)

	// t2 = d2 - d1
	VSUBPS Y0, Y4, Y8
	VSUBPS Y1, Y5, Y9
	VSUBPS Y2, Y6, Y10
	VSUBPS Y3, Y7, Y11
	VROW(R13)

	// t0 = d0 - d2
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VMOVUPS 64(SI), Y10
	VMOVUPS 96(SI), Y11
	VSUBPS  Y4, Y8, Y8
	VSUBPS  Y5, Y9, Y9
	VSUBPS  Y6, Y10, Y10
	VSUBPS  Y7, Y11, Y11
	VROW(DI)

	// t3 = d1 - d3
	VMOVUPS (SI)(R15*1), Y8
	VMOVUPS 32(SI)(R15*1), Y9
	VMOVUPS 64(SI)(R15*1), Y10
	VMOVUPS 96(SI)(R15*1), Y11
	VSUBPS  Y8, Y0, Y8
	VSUBPS  Y9, Y1, Y9
	VSUBPS  Y10, Y2, Y10
	VSUBPS  Y11, Y3, Y11
	VROW(R14)

	ADDQ $64, SI
	ADDQ $32, DI
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  winloop
	VZEROUPPER
	RET

// OCOL loads column j of M from a0..a3 (rows 0..3) and sets
// s0 = m0+m1+m2, s1 = m1-m2-m3: the column pass of A^T M A.
#define OCOL(a0, a1, a2, a3, s0, s1) \
	VMOVUPS a0, Y0 \
	VMOVUPS a1, Y1 \
	VMOVUPS a2, Y2 \
	VMOVUPS a3, Y3 \
	VADDPS  Y1, Y0, s0 \
	VADDPS  Y2, s0, s0 \
	VSUBPS  Y2, Y1, s1 \
	VSUBPS  Y3, s1, s1

// func winoOutputAVX2(dst, src *float32, ntx, ldr, ldx int)
TEXT ·winoOutputAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	STRIDES
	LEAQ (SI)(R11*1), R12
	LEAQ (R12)(R11*1), R13
	LEAQ (R13)(R11*1), R14

woutloop:
	OCOL((SI), (R12), (R13), (R14), Y8, Y12)
	OCOL((SI)(R9*1), (R12)(R9*1), (R13)(R9*1), (R14)(R9*1), Y9, Y13)
	OCOL((SI)(R9*2), (R12)(R9*2), (R13)(R9*2), (R14)(R9*2), Y10, Y14)
	OCOL((SI)(R10*1), (R12)(R10*1), (R13)(R10*1), (R14)(R10*1), Y11, Y15)

	// row 0: s00+s01+s02, s01-s02-s03
	VADDPS  Y9, Y8, Y0
	VADDPS  Y10, Y0, Y0
	VMOVUPS Y0, (DI)
	VSUBPS  Y10, Y9, Y1
	VSUBPS  Y11, Y1, Y1
	VMOVUPS Y1, 32(DI)

	// row 1
	VADDPS  Y13, Y12, Y0
	VADDPS  Y14, Y0, Y0
	VMOVUPS Y0, (DI)(R8*1)
	VSUBPS  Y14, Y13, Y1
	VSUBPS  Y15, Y1, Y1
	VMOVUPS Y1, 32(DI)(R8*1)

	ADDQ $64, DI
	ADDQ $32, SI
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  woutloop
	VZEROUPPER
	RET

// GROW stores (q0, q0+q1, q0-q1, -q1) at p + j*ldx: the row pass of A dy A^T.
#define GROW(q0, q1, p) \
	VMOVUPS q0, (p) \
	VADDPS  q1, q0, Y12 \
	VMOVUPS Y12, (p)(R9*1) \
	VSUBPS  q1, q0, Y12 \
	VMOVUPS Y12, (p)(R9*2) \
	VXORPS  Y15, q1, Y12 \
	VMOVUPS Y12, (p)(R10*1)

// func winoGradOutputAVX2(dst, src *float32, ntx, ldr, ldx int)
TEXT ·winoGradOutputAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	STRIDES
	SIGNMASK
	LEAQ (DI)(R11*1), R12
	LEAQ (R12)(R11*1), R13
	LEAQ (R13)(R11*1), R14

wgoloop:
	VMOVUPS (SI), Y0         // d00
	VMOVUPS 32(SI), Y1       // d01
	VMOVUPS (SI)(R8*1), Y2   // d10
	VMOVUPS 32(SI)(R8*1), Y3 // d11

	// q0 = d0, q1 = d0+d1, q2 = d0-d1, q3 = -d1 (columns 0 and 1)
	VADDPS Y2, Y0, Y4
	VADDPS Y3, Y1, Y5
	VSUBPS Y2, Y0, Y6
	VSUBPS Y3, Y1, Y7
	VXORPS Y15, Y2, Y8
	VXORPS Y15, Y3, Y9

	GROW(Y0, Y1, DI)
	GROW(Y4, Y5, R12)
	GROW(Y6, Y7, R13)
	GROW(Y8, Y9, R14)

	ADDQ $64, SI
	ADDQ $32, DI
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  wgoloop
	VZEROUPPER
	RET

// GACC adds (p0, p1-p2+p3, p1+p2-p0, -p3) of Y0..Y3 to the row at q: the
// row pass of B X B^T.
#define GACC(q) \
	VADDPS  (q), Y0, Y4 \
	VMOVUPS Y4, (q) \
	VSUBPS  Y2, Y1, Y5 \
	VADDPS  Y3, Y5, Y5 \
	VADDPS  32(q), Y5, Y5 \
	VMOVUPS Y5, 32(q) \
	VADDPS  Y2, Y1, Y6 \
	VSUBPS  Y0, Y6, Y6 \
	VADDPS  64(q), Y6, Y6 \
	VMOVUPS Y6, 64(q) \
	VXORPS  Y15, Y3, Y7 \
	VADDPS  96(q), Y7, Y7 \
	VMOVUPS Y7, 96(q)

// func winoGradInputAVX2(dst, src *float32, ntx, ldr, ldx int)
TEXT ·winoGradInputAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	STRIDES
	SIGNMASK
	LEAQ (SI)(R11*1), R12
	LEAQ (R12)(R11*1), R13
	LEAQ (R13)(R11*1), R14
	LEAQ (DI)(R8*1), BX // band row 1
	LEAQ (DI)(R8*2), DX // band row 2
	LEAQ (DI)(R15*1), AX // band row 3

wgiloop:
	// row 0: p0j = x0j
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	GACC(DI)

	// row 1: p1j = x1j - x2j + x3j
	VMOVUPS (R12), Y0
	VSUBPS  (R13), Y0, Y0
	VADDPS  (R14), Y0, Y0
	VMOVUPS (R12)(R9*1), Y1
	VSUBPS  (R13)(R9*1), Y1, Y1
	VADDPS  (R14)(R9*1), Y1, Y1
	VMOVUPS (R12)(R9*2), Y2
	VSUBPS  (R13)(R9*2), Y2, Y2
	VADDPS  (R14)(R9*2), Y2, Y2
	VMOVUPS (R12)(R10*1), Y3
	VSUBPS  (R13)(R10*1), Y3, Y3
	VADDPS  (R14)(R10*1), Y3, Y3
	GACC(BX)

	// row 2: p2j = x1j + x2j - x0j
	VMOVUPS (R12), Y0
	VADDPS  (R13), Y0, Y0
	VSUBPS  (SI), Y0, Y0
	VMOVUPS (R12)(R9*1), Y1
	VADDPS  (R13)(R9*1), Y1, Y1
	VSUBPS  (SI)(R9*1), Y1, Y1
	VMOVUPS (R12)(R9*2), Y2
	VADDPS  (R13)(R9*2), Y2, Y2
	VSUBPS  (SI)(R9*2), Y2, Y2
	VMOVUPS (R12)(R10*1), Y3
	VADDPS  (R13)(R10*1), Y3, Y3
	VSUBPS  (SI)(R10*1), Y3, Y3
	GACC(DX)

	// row 3: p3j = -x3j
	VXORPS (R14), Y15, Y0
	VXORPS (R14)(R9*1), Y15, Y1
	VXORPS (R14)(R9*2), Y15, Y2
	VXORPS (R14)(R10*1), Y15, Y3
	GACC(AX)

	ADDQ $32, SI
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R14
	ADDQ $64, DI
	ADDQ $64, BX
	ADDQ $64, DX
	ADDQ $64, AX
	DECQ CX
	JNZ  wgiloop
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8x8 matrix whose rows are Y0..Y7 into Y8..Y15
// (Y8 holds column 0 of the rows, ...); Y0..Y7 are clobbered.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8 \
	VUNPCKHPS  Y1, Y0, Y9 \
	VUNPCKLPS  Y3, Y2, Y10 \
	VUNPCKHPS  Y3, Y2, Y11 \
	VUNPCKLPS  Y5, Y4, Y12 \
	VUNPCKHPS  Y5, Y4, Y13 \
	VUNPCKLPS  Y7, Y6, Y14 \
	VUNPCKHPS  Y7, Y6, Y15 \
	VSHUFPS    $0x44, Y10, Y8, Y0 \
	VSHUFPS    $0xEE, Y10, Y8, Y1 \
	VSHUFPS    $0x44, Y11, Y9, Y2 \
	VSHUFPS    $0xEE, Y11, Y9, Y3 \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func laneInAVX2(dst, src *float32, n, stride int)
// dst[x*8+k] = src[k*stride+x] for x < n (a positive multiple of 4), k < 8.
TEXT ·laneInAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10

lin8:
	CMPQ    CX, $8
	JLT     lin4
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 32(DI)
	VMOVUPS Y10, 64(DI)
	VMOVUPS Y11, 96(DI)
	VMOVUPS Y12, 128(DI)
	VMOVUPS Y13, 160(DI)
	VMOVUPS Y14, 192(DI)
	VMOVUPS Y15, 224(DI)
	ADDQ    $32, SI
	ADDQ    $32, R10
	ADDQ    $256, DI
	SUBQ    $8, CX
	JMP     lin8

lin4:
	TESTQ   CX, CX
	JZ      lindone
	VMOVUPS (SI), X0
	VMOVUPS (SI)(R8*1), X1
	VMOVUPS (SI)(R8*2), X2
	VMOVUPS (SI)(R9*1), X3
	VMOVUPS (R10), X4
	VMOVUPS (R10)(R8*1), X5
	VMOVUPS (R10)(R8*2), X6
	VMOVUPS (R10)(R9*1), X7
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 32(DI)
	VMOVUPS Y10, 64(DI)
	VMOVUPS Y11, 96(DI)

lindone:
	VZEROUPPER
	RET

// func laneOutAVX2(dst, src *float32, n, stride, add int)
// dst[k*stride+x] = (or +=) src[x*8+k] for x < n (a positive multiple of 4), k < 8.
TEXT ·laneOutAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ add+32(FP), DX
	LEAQ (R8)(R8*2), R9
	LEAQ (DI)(R8*4), R10

lout8:
	CMPQ    CX, $8
	JLT     lout4
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS 128(SI), Y4
	VMOVUPS 160(SI), Y5
	VMOVUPS 192(SI), Y6
	VMOVUPS 224(SI), Y7
	TRANSPOSE8
	TESTQ   DX, DX
	JZ      lstore8
	VADDPS  (DI), Y8, Y8
	VADDPS  (DI)(R8*1), Y9, Y9
	VADDPS  (DI)(R8*2), Y10, Y10
	VADDPS  (DI)(R9*1), Y11, Y11
	VADDPS  (R10), Y12, Y12
	VADDPS  (R10)(R8*1), Y13, Y13
	VADDPS  (R10)(R8*2), Y14, Y14
	VADDPS  (R10)(R9*1), Y15, Y15

lstore8:
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R8*1)
	VMOVUPS Y10, (DI)(R8*2)
	VMOVUPS Y11, (DI)(R9*1)
	VMOVUPS Y12, (R10)
	VMOVUPS Y13, (R10)(R8*1)
	VMOVUPS Y14, (R10)(R8*2)
	VMOVUPS Y15, (R10)(R9*1)
	ADDQ    $256, SI
	ADDQ    $32, DI
	ADDQ    $32, R10
	SUBQ    $8, CX
	JMP     lout8

lout4:
	TESTQ   CX, CX
	JZ      loutdone
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TRANSPOSE8
	TESTQ   DX, DX
	JZ      lstore4
	VADDPS  (DI), X8, X8
	VADDPS  (DI)(R8*1), X9, X9
	VADDPS  (DI)(R8*2), X10, X10
	VADDPS  (DI)(R9*1), X11, X11
	VADDPS  (R10), X12, X12
	VADDPS  (R10)(R8*1), X13, X13
	VADDPS  (R10)(R8*2), X14, X14
	VADDPS  (R10)(R9*1), X15, X15

lstore4:
	VMOVUPS X8, (DI)
	VMOVUPS X9, (DI)(R8*1)
	VMOVUPS X10, (DI)(R8*2)
	VMOVUPS X11, (DI)(R9*1)
	VMOVUPS X12, (R10)
	VMOVUPS X13, (R10)(R8*1)
	VMOVUPS X14, (R10)(R8*2)
	VMOVUPS X15, (R10)(R9*1)

loutdone:
	VZEROUPPER
	RET

//go:build !noasm && !purego && gc

#include "textflag.h"

// Hand-written NEON GEMM. The Go assembler lacks vector FMAX/FMIN: those are WORD
// encodings with the instruction in the comment (FMAX Vd.4S = 0x4E20F400|Rm<<16|Rn<<5|Rd,
// FMIN = 0x4EA0F400|...); TestGemmClampAndSpecials exercises every one under qemu.
//
// Registers: R0 m, R1 n, R2 k, R3 a, R4 lda bytes, R5 packed block, R6 c, R7 ldc bytes,
// R8 block bytes, R9 a row, R10 c row, R11 rows left, R12 packed cursor, R13 R14 R15 R19
// row pointers of A, R21 k left; V16..V23 accumulators (row r in V16+2r, V17+2r),
// V0 V1 packed row, V2..V5 broadcast A values, V30 lo, V31 hi.

// func gemmMinmax4x8NEON(m, n, k int, a *float32, lda int, packed *float32, c *float32, ldc int, lo, hi float32)
TEXT ·gemmMinmax4x8NEON(SB), NOSPLIT, $0-72
	MOVD m+0(FP), R0
	MOVD n+8(FP), R1
	MOVD k+16(FP), R2
	MOVD a+24(FP), R3
	MOVD lda+32(FP), R4
	MOVD packed+40(FP), R5
	MOVD c+48(FP), R6
	MOVD ldc+56(FP), R7
	FMOVS lo+64(FP), F30
	FMOVS hi+68(FP), F31
	VDUP V30.S[0], V30.S4
	VDUP V31.S[0], V31.S4
	LSL $2, R4, R4
	LSL $2, R7, R7
	ADD $1, R2, R8
	LSL $5, R8, R8

colloop:
	CMP $8, R1
	BLT done
	MOVD R3, R9
	MOVD R6, R10
	MOVD R0, R11

rows4:
	CMP $4, R11
	BLT rows1
	MOVD R5, R12
	VLD1.P 32(R12), [V16.S4, V17.S4]
	VMOV V16.B16, V18.B16
	VMOV V17.B16, V19.B16
	VMOV V16.B16, V20.B16
	VMOV V17.B16, V21.B16
	VMOV V16.B16, V22.B16
	VMOV V17.B16, V23.B16
	MOVD R9, R13
	ADD R4, R13, R14
	ADD R4, R14, R15
	ADD R4, R15, R19
	MOVD R2, R21
	CBZ R21, store4

k4:
	VLD1.P 32(R12), [V0.S4, V1.S4]
	VLD1R.P 4(R13), [V2.S4]
	VLD1R.P 4(R14), [V3.S4]
	VLD1R.P 4(R15), [V4.S4]
	VLD1R.P 4(R19), [V5.S4]
	VFMLA V0.S4, V2.S4, V16.S4
	VFMLA V1.S4, V2.S4, V17.S4
	VFMLA V0.S4, V3.S4, V18.S4
	VFMLA V1.S4, V3.S4, V19.S4
	VFMLA V0.S4, V4.S4, V20.S4
	VFMLA V1.S4, V4.S4, V21.S4
	VFMLA V0.S4, V5.S4, V22.S4
	VFMLA V1.S4, V5.S4, V23.S4
	SUBS $1, R21, R21
	BNE k4

store4:
	WORD $0x4e3ef610 // FMAX V16.4S, V16.4S, V30.4S
	WORD $0x4ebff610 // FMIN V16.4S, V16.4S, V31.4S
	WORD $0x4e3ef631 // FMAX V17.4S, V17.4S, V30.4S
	WORD $0x4ebff631 // FMIN V17.4S, V17.4S, V31.4S
	WORD $0x4e3ef652 // FMAX V18.4S, V18.4S, V30.4S
	WORD $0x4ebff652 // FMIN V18.4S, V18.4S, V31.4S
	WORD $0x4e3ef673 // FMAX V19.4S, V19.4S, V30.4S
	WORD $0x4ebff673 // FMIN V19.4S, V19.4S, V31.4S
	WORD $0x4e3ef694 // FMAX V20.4S, V20.4S, V30.4S
	WORD $0x4ebff694 // FMIN V20.4S, V20.4S, V31.4S
	WORD $0x4e3ef6b5 // FMAX V21.4S, V21.4S, V30.4S
	WORD $0x4ebff6b5 // FMIN V21.4S, V21.4S, V31.4S
	WORD $0x4e3ef6d6 // FMAX V22.4S, V22.4S, V30.4S
	WORD $0x4ebff6d6 // FMIN V22.4S, V22.4S, V31.4S
	WORD $0x4e3ef6f7 // FMAX V23.4S, V23.4S, V30.4S
	WORD $0x4ebff6f7 // FMIN V23.4S, V23.4S, V31.4S
	MOVD R10, R13
	VST1 [V16.S4, V17.S4], (R13)
	ADD R7, R13, R13
	VST1 [V18.S4, V19.S4], (R13)
	ADD R7, R13, R13
	VST1 [V20.S4, V21.S4], (R13)
	ADD R7, R13, R13
	VST1 [V22.S4, V23.S4], (R13)
	ADD R4<<2, R9, R9
	ADD R7<<2, R10, R10
	SUB $4, R11, R11
	B rows4

rows1:
	CBZ R11, colnext
	MOVD R5, R12
	VLD1.P 32(R12), [V16.S4, V17.S4]
	MOVD R9, R13
	MOVD R2, R21
	CBZ R21, store1

k1:
	VLD1.P 32(R12), [V0.S4, V1.S4]
	VLD1R.P 4(R13), [V2.S4]
	VFMLA V0.S4, V2.S4, V16.S4
	VFMLA V1.S4, V2.S4, V17.S4
	SUBS $1, R21, R21
	BNE k1

store1:
	WORD $0x4e3ef610 // FMAX V16.4S, V16.4S, V30.4S
	WORD $0x4ebff610 // FMIN V16.4S, V16.4S, V31.4S
	WORD $0x4e3ef631 // FMAX V17.4S, V17.4S, V30.4S
	WORD $0x4ebff631 // FMIN V17.4S, V17.4S, V31.4S
	VST1 [V16.S4, V17.S4], (R10)
	ADD R4, R9, R9
	ADD R7, R10, R10
	SUB $1, R11, R11
	B rows1

colnext:
	ADD R8, R5, R5
	ADD $32, R6, R6
	SUB $8, R1, R1
	B colloop

done:
	RET

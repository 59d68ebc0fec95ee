//go:build !purego

#include "textflag.h"

// NEXTKEY finishes one AES-256 round key: prev ^= prev<<32 ^ prev<<64 ^
// prev<<96 (each word xored with the words before it), then prev ^= t.
// tmp is clobbered.
#define NEXTKEY(prev, t, tmp) \
	MOVOU prev, tmp; \
	PSLLO $4, tmp; \
	PXOR  tmp, prev; \
	PSLLO $4, tmp; \
	PXOR  tmp, prev; \
	PSLLO $4, tmp; \
	PXOR  tmp, prev; \
	PXOR  t, prev

// EVENKEY makes round key 2i from 2i-2 (in a) and 2i-1 (in b): the
// word RotWord(SubWord(last word of b)) ^ rcon, broadcast, through NEXTKEY.
#define EVENKEY(rcon, a, b, off) \
	AESKEYGENASSIST $rcon, b, X2; \
	PSHUFD $0xff, X2, X2; \
	NEXTKEY(a, X2, X4); \
	MOVOU a, off(SP)

// ODDKEY makes round key 2i+1 from 2i-1 (in b) and 2i (in a): the word
// SubWord(last word of a), broadcast, through NEXTKEY.
#define ODDKEY(a, b, off) \
	AESKEYGENASSIST $0x00, a, X2; \
	PSHUFD $0xaa, X2, X2; \
	NEXTKEY(b, X2, X4); \
	MOVOU b, off(SP)

// ROUND runs one AES round with the round key at off(SP) on the eight
// blocks in X0..X7.
#define ROUND(off) \
	MOVOU  off(SP), X9; \
	AESENC X9, X0; \
	AESENC X9, X1; \
	AESENC X9, X2; \
	AESENC X9, X3; \
	AESENC X9, X4; \
	AESENC X9, X5; \
	AESENC X9, X6; \
	AESENC X9, X7

// LANES applies op (PADDW or PSUBW) to the 1024 16-bit lanes of the
// accumulator at DI with those of the expansion at SI (both pointers
// clobbered), 128 bytes a pass: each lane wraps modulo 2^16 on its own,
// as addLanes and subLanes do.
#define LANES(op) \
	MOVQ $16, CX; \
lanesloop: \
	MOVOU 0(DI), X0; \
	MOVOU 16(DI), X1; \
	MOVOU 32(DI), X2; \
	MOVOU 48(DI), X3; \
	MOVOU 64(DI), X4; \
	MOVOU 80(DI), X5; \
	MOVOU 96(DI), X6; \
	MOVOU 112(DI), X7; \
	MOVOU 0(SI), X8; \
	MOVOU 16(SI), X9; \
	MOVOU 32(SI), X10; \
	MOVOU 48(SI), X11; \
	MOVOU 64(SI), X12; \
	MOVOU 80(SI), X13; \
	MOVOU 96(SI), X14; \
	op    X8, X0; \
	op    X9, X1; \
	op    X10, X2; \
	op    X11, X3; \
	op    X12, X4; \
	op    X13, X5; \
	op    X14, X6; \
	MOVOU 112(SI), X8; \
	op    X8, X7; \
	MOVOU X0, 0(DI); \
	MOVOU X1, 16(DI); \
	MOVOU X2, 32(DI); \
	MOVOU X3, 48(DI); \
	MOVOU X4, 64(DI); \
	MOVOU X5, 80(DI); \
	MOVOU X6, 96(DI); \
	MOVOU X7, 112(DI); \
	ADDQ  $128, DI; \
	ADDQ  $128, SI; \
	DECQ  CX; \
	JNZ   lanesloop; \
	RET

// func aes256KeystreamZeroIV(key *[32]byte, out *[2048]byte)
//
// The 15 round keys of AES-256 live in the 240-byte frame; the keystream
// is 128 blocks, counters 0..127 as 128-bit big-endian integers, eight
// blocks at a time so the AESENC latencies overlap.
TEXT ·aes256KeystreamZeroIV(SB), NOSPLIT, $240-16
	MOVQ key+0(FP), AX
	MOVQ out+8(FP), DI

	// Key schedule: X1 holds the even round keys, X3 the odd ones.
	MOVOU 0(AX), X1
	MOVOU 16(AX), X3
	MOVOU X1, 0(SP)
	MOVOU X3, 16(SP)
	EVENKEY(0x01, X1, X3, 32)
	ODDKEY(X1, X3, 48)
	EVENKEY(0x02, X1, X3, 64)
	ODDKEY(X1, X3, 80)
	EVENKEY(0x04, X1, X3, 96)
	ODDKEY(X1, X3, 112)
	EVENKEY(0x08, X1, X3, 128)
	ODDKEY(X1, X3, 144)
	EVENKEY(0x10, X1, X3, 160)
	ODDKEY(X1, X3, 176)
	EVENKEY(0x20, X1, X3, 192)
	ODDKEY(X1, X3, 208)
	EVENKEY(0x40, X1, X3, 224)

	// Counter block i is 15 zero bytes then the byte i: as two
	// little-endian quadwords, 0 and i<<56. X8 is the next counter,
	// X10 the step, X11 round key 0.
	PXOR  X8, X8
	MOVQ  $0x0100000000000000, BX
	MOVQ  BX, X10
	PSLLO $8, X10
	MOVOU 0(SP), X11
	MOVQ  $16, CX

loop:
	MOVOU X8, X0
	PADDQ X10, X8
	MOVOU X8, X1
	PADDQ X10, X8
	MOVOU X8, X2
	PADDQ X10, X8
	MOVOU X8, X3
	PADDQ X10, X8
	MOVOU X8, X4
	PADDQ X10, X8
	MOVOU X8, X5
	PADDQ X10, X8
	MOVOU X8, X6
	PADDQ X10, X8
	MOVOU X8, X7
	PADDQ X10, X8
	PXOR  X11, X0
	PXOR  X11, X1
	PXOR  X11, X2
	PXOR  X11, X3
	PXOR  X11, X4
	PXOR  X11, X5
	PXOR  X11, X6
	PXOR  X11, X7
	ROUND(16)
	ROUND(32)
	ROUND(48)
	ROUND(64)
	ROUND(80)
	ROUND(96)
	ROUND(112)
	ROUND(128)
	ROUND(144)
	ROUND(160)
	ROUND(176)
	ROUND(192)
	ROUND(208)
	MOVOU      224(SP), X9
	AESENCLAST X9, X0
	AESENCLAST X9, X1
	AESENCLAST X9, X2
	AESENCLAST X9, X3
	AESENCLAST X9, X4
	AESENCLAST X9, X5
	AESENCLAST X9, X6
	AESENCLAST X9, X7
	MOVOU X0, 0(DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	MOVOU X4, 64(DI)
	MOVOU X5, 80(DI)
	MOVOU X6, 96(DI)
	MOVOU X7, 112(DI)
	ADDQ  $128, DI
	DECQ  CX
	JNZ   loop
	RET

// func lanesAdd(acc *[256]uint64, x *[2048]byte)
TEXT ·lanesAdd(SB), NOSPLIT, $0-16
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	LANES(PADDW)

// func lanesSub(acc *[256]uint64, x *[2048]byte)
TEXT ·lanesSub(SB), NOSPLIT, $0-16
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	LANES(PSUBW)

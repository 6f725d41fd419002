/*
 * The device states of the codec benchmark (tests/bench/bench_codec.py, `make bench`),
 * one of each shape the issue asks for:
 *   ScalarHeavy  100 uint32_t registers (a register file: the per-field cost)
 *   BufferHeavy  64 KiB of byte arrays and a few registers (RAM-like state)
 *   RingHeavy    256 descriptors of 6 fields each (array-of-struct state, e.g. a NIC ring)
 * All three live in one header so asn1c builds one module for the benchmark.
 */
#ifndef BENCH_STATES_H
#define BENCH_STATES_H

#include <stdbool.h>
#include <stdint.h>

#include "vmgen.h"

typedef struct VMGEN_STATE(1, 1) ScalarHeavy {
    uint32_t r0;
    uint32_t r1;
    uint32_t r2;
    uint32_t r3;
    uint32_t r4;
    uint32_t r5;
    uint32_t r6;
    uint32_t r7;
    uint32_t r8;
    uint32_t r9;
    uint32_t r10;
    uint32_t r11;
    uint32_t r12;
    uint32_t r13;
    uint32_t r14;
    uint32_t r15;
    uint32_t r16;
    uint32_t r17;
    uint32_t r18;
    uint32_t r19;
    uint32_t r20;
    uint32_t r21;
    uint32_t r22;
    uint32_t r23;
    uint32_t r24;
    uint32_t r25;
    uint32_t r26;
    uint32_t r27;
    uint32_t r28;
    uint32_t r29;
    uint32_t r30;
    uint32_t r31;
    uint32_t r32;
    uint32_t r33;
    uint32_t r34;
    uint32_t r35;
    uint32_t r36;
    uint32_t r37;
    uint32_t r38;
    uint32_t r39;
    uint32_t r40;
    uint32_t r41;
    uint32_t r42;
    uint32_t r43;
    uint32_t r44;
    uint32_t r45;
    uint32_t r46;
    uint32_t r47;
    uint32_t r48;
    uint32_t r49;
    uint32_t r50;
    uint32_t r51;
    uint32_t r52;
    uint32_t r53;
    uint32_t r54;
    uint32_t r55;
    uint32_t r56;
    uint32_t r57;
    uint32_t r58;
    uint32_t r59;
    uint32_t r60;
    uint32_t r61;
    uint32_t r62;
    uint32_t r63;
    uint32_t r64;
    uint32_t r65;
    uint32_t r66;
    uint32_t r67;
    uint32_t r68;
    uint32_t r69;
    uint32_t r70;
    uint32_t r71;
    uint32_t r72;
    uint32_t r73;
    uint32_t r74;
    uint32_t r75;
    uint32_t r76;
    uint32_t r77;
    uint32_t r78;
    uint32_t r79;
    uint32_t r80;
    uint32_t r81;
    uint32_t r82;
    uint32_t r83;
    uint32_t r84;
    uint32_t r85;
    uint32_t r86;
    uint32_t r87;
    uint32_t r88;
    uint32_t r89;
    uint32_t r90;
    uint32_t r91;
    uint32_t r92;
    uint32_t r93;
    uint32_t r94;
    uint32_t r95;
    uint32_t r96;
    uint32_t r97;
    uint32_t r98;
    uint32_t r99;
} ScalarHeavy;

typedef struct VMGEN_STATE(1, 1) BufferHeavy {
    uint32_t status;
    uint32_t index;
    uint8_t ram[32768];
    uint8_t vram[16384];
    uint8_t fifo[8192];
    uint8_t rom[8192];
} BufferHeavy;

typedef struct RingDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
    uint8_t status;
    bool valid;
} RingDesc;

typedef struct VMGEN_STATE(1, 1) RingHeavy {
    RingDesc ring[256];
    uint32_t head;
    uint32_t tail;
} RingHeavy;

#endif

/*
 * Timing for the codec benchmark (tests/bench/bench_codec.py writes the
 * program that includes this).  Each measurement calibrates a batch size so
 * one batch takes about BENCH_BATCH_NS, runs BENCH_RUNS batches and prints the
 * median and the best per-operation time of the batches:
 *
 *   RESULT <state> <codec> <op> <bytes> <median ns> <best ns> <iterations>
 *
 * With BENCH_ONLY=state/codec/op in the environment, only that measurement
 * runs, BENCH_ITERS times, untimed (for valgrind --tool=callgrind).
 */
#ifndef BENCH_TIMING_H
#define BENCH_TIMING_H

#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BENCH_RUNS
#define BENCH_RUNS 11
#endif

static double bench_batch_ns = 20e6;

static double bench_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void bench_report(const char *state, const char *codec, const char *op,
                         size_t bytes, double *runs, long iters)
{
    qsort(runs, BENCH_RUNS, sizeof(double), bench_cmp);
    printf("RESULT %s %s %s %zu %.3f %.3f %ld\n", state, codec, op, bytes,
           runs[BENCH_RUNS / 2], runs[0], iters);
    fflush(stdout);
}

/* 0: time it; 1: run it BENCH_ITERS times untimed; -1: skip it. */
static int bench_mode(const char *state, const char *codec, const char *op)
{
    const char *only = getenv("BENCH_ONLY");
    char want[256];

    if (!only || !*only) {
        return 0;
    }
    snprintf(want, sizeof(want), "%s/%s/%s", state, codec, op);
    return strcmp(only, want) == 0 ? 1 : -1;
}

/* Whether BENCH_ONLY, if set, names a measurement of `state`. */
static int bench_state_wanted(const char *state)
{
    const char *only = getenv("BENCH_ONLY");
    size_t n = strlen(state);

    return !only || !*only || (strncmp(only, state, n) == 0 && only[n] == '/');
}

static long bench_iters(void)
{
    const char *s = getenv("BENCH_ITERS");

    return s ? atol(s) : 1000;
}

/* Keeps the compiler from assuming anything about memory across `body`. */
#define BENCH_CLOBBER() __asm__ __volatile__("" : : : "memory")

#define BENCH(state, codec, op, bytes, body)                                  \
    do {                                                                      \
        int mode_ = bench_mode(state, codec, op);                             \
        long n_ = 1, i_;                                                      \
        double t_, r_[BENCH_RUNS];                                            \
        if (mode_ == 1) {                                                     \
            for (i_ = bench_iters(); i_ > 0; i_--) {                          \
                body;                                                         \
                BENCH_CLOBBER();                                              \
            }                                                                 \
            break;                                                            \
        }                                                                     \
        if (mode_ != 0) {                                                     \
            break;                                                            \
        }                                                                     \
        for (;;) {                                                            \
            double t0_ = bench_now();                                         \
            for (i_ = 0; i_ < n_; i_++) {                                     \
                body;                                                         \
                BENCH_CLOBBER();                                              \
            }                                                                 \
            t_ = bench_now() - t0_;                                           \
            if (t_ > bench_batch_ns / 8 || n_ > (1L << 40)) {                 \
                break;                                                        \
            }                                                                 \
            n_ *= 2;                                                          \
        }                                                                     \
        n_ = (long)((double)n_ * bench_batch_ns / (t_ > 1 ? t_ : 1));         \
        if (n_ < 1) {                                                         \
            n_ = 1;                                                           \
        }                                                                     \
        for (int k_ = 0; k_ < BENCH_RUNS; k_++) {                             \
            double t0_ = bench_now();                                         \
            for (i_ = 0; i_ < n_; i_++) {                                     \
                body;                                                         \
                BENCH_CLOBBER();                                              \
            }                                                                 \
            r_[k_] = (bench_now() - t0_) / (double)n_;                        \
        }                                                                     \
        bench_report(state, codec, op, bytes, r_, n_);                        \
    } while (0)

static uint64_t bench_rng = 0x9e3779b97f4a7c15u;

/* xorshift64*: deterministic field values. */
static uint64_t bench_rand(void)
{
    bench_rng ^= bench_rng >> 12;
    bench_rng ^= bench_rng << 25;
    bench_rng ^= bench_rng >> 27;
    return bench_rng * 0x2545f4914f6cdd1du;
}

#endif /* BENCH_TIMING_H */

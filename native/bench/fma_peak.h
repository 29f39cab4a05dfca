// The FP32 FMA peak of the cores a lane uses, measured in the same run: the yardstick for
// compute-bound kernels (prefill attention). Independent FMA chains, enough to cover the
// latency of both FMA ports, on every thread at once.
#pragma once
#include "infeng/dispatch.h"

namespace infeng::bench {

// GFLOP/s (2 per lane per FMA) of `threads` threads issuing FMAs of the widest vectors path p
// uses; 0 when p has no vector FMA (scalar) or is not compiled in.
double fma_peak_gflops(Path p, int threads);

namespace detail {
// One thread's FMAs for about `seconds`; returns the FLOPs done.
double fma_burst_avx512(double seconds);
double fma_burst_avx2(double seconds);
}  // namespace detail

}  // namespace infeng::bench

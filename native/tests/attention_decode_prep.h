// The AVX-512 query preparation and outlier correction next to the generic versions compiled
// with the same AVX-512 flags (the copies the AVX-512 tables used before), handed to
// attention_decode_prep_test.cpp from a translation unit built with those flags: the test
// itself stays baseline x86-64, so it can skip on a CPU without AVX-512 instead of faulting.
#pragma once
#include "attention/decode_kernels.h"

namespace infeng::attn::prep_test {

struct PrepFns {
  decltype(detail::DecodeKernels::prepare_query) prepare_generic = nullptr;
  decltype(detail::DecodeKernels::prepare_query) prepare_avx512 = nullptr;
  decltype(detail::DecodeKernels::apply_outliers) outliers_generic = nullptr;
  decltype(detail::DecodeKernels::apply_outliers) outliers_avx512 = nullptr;
};

#if INFENG_HAVE_AVX512
PrepFns prep_fns_avx512();
#endif

}  // namespace infeng::attn::prep_test

// Built with the AVX-512 flags (see src/attention/CMakeLists.txt); only called after the test
// checked the CPU.
#include "attention_decode_prep.h"

#if INFENG_HAVE_AVX512
#include "attention/decode_prep_avx512.h"
#include "attention/decode_query_prep.h"

namespace infeng::attn::prep_test {

PrepFns prep_fns_avx512() {
  using namespace detail;
  return {prepare_query_impl, prepare_query_avx512, apply_outliers_impl, apply_outliers_avx512};
}

}  // namespace infeng::attn::prep_test
#endif

// Packing: the layouts the microkernels read (see microkernels.h), and their geometry.
#pragma once
#include <cstddef>

#include "gemm/microkernels.h"

namespace infeng::gemm::detail {

// A K×N operand packed panel-major: panel j holds columns [j*nr, j*nr + width) for all K rows,
// row after row, at offset j*K*nr. Keeping each panel's full K contiguous lets a decode
// thread stream one contiguous range of the buffer; a prefill sliver (kc rows of one panel)
// is contiguous too.
struct PanelView {
  const float* data = nullptr;
  int K = 0, N = 0;
  int nr = 1, vw = 1;

  int panels() const { return (N + nr - 1) / nr; }
  // A multiple of vw ≤ nr, so a narrow last panel wastes less than one vector per row.
  int width(int j) const {
    const int rest = N - j * nr;
    const int w = (rest + vw - 1) / vw * vw;
    return w < nr ? w : nr;
  }
  const float* panel(int j) const { return data + static_cast<std::size_t>(j) * K * nr; }
};

std::size_t packed_floats(int K, int N, const Geometry& g);
// src is K×N row-major with leading dimension ld; dst has packed_floats() room.
void pack_panels(const float* src, int ld, int K, int N, const Geometry& g, float* dst);

// Rows [0, m) × columns [0, kc) of x → dst[k*m + i].
void pack_a(const float* x, int ldx, int m, int kc, float* dst);

}  // namespace infeng::gemm::detail

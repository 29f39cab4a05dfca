// CPU feature detection: cpuid for what the silicon offers, xgetbv for what the OS saves.
// A hypervisor or kernel can expose AVX-512 in cpuid and still leave the ZMM/opmask state out
// of XCR0; executing the instructions then faults, so both must agree before a path is used.
#include <cpuid.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "infeng/dispatch.h"

namespace infeng {
namespace {

struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub) {
  Regs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}

// xgetbv is encoded by hand so this file needs no -mxsave; only valid when OSXSAVE is set.
std::uint64_t xgetbv0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

bool bit(unsigned v, int n) { return (v >> n) & 1u; }

CpuFeatures detect() {
  CpuFeatures f;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 1) return f;
  const Regs l1 = cpuid(1, 0);
  f.sse42 = bit(l1.c, 20);
  const bool osxsave = bit(l1.c, 27);
  const bool cpu_avx = bit(l1.c, 28);
  f.fma = bit(l1.c, 12);
  f.f16c = bit(l1.c, 29);

  if (osxsave) {
    const std::uint64_t xcr0 = xgetbv0();
    // bit 1 SSE (XMM), bit 2 AVX (YMM upper halves)
    f.os_ymm = (xcr0 & 0x6) == 0x6;
    // bits 5-7: opmask, ZMM0-15 upper halves, ZMM16-31
    f.os_zmm = f.os_ymm && (xcr0 & 0xE0) == 0xE0;
    f.os_amx = (xcr0 & 0x60000) == 0x60000;
  }
  f.avx = cpu_avx;

  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0);
    f.avx2 = bit(l7.b, 5);
    f.avx512f = bit(l7.b, 16);
    f.avx512dq = bit(l7.b, 17);
    f.avx512bw = bit(l7.b, 30);
    f.avx512vl = bit(l7.b, 31);
    f.avx512_vnni = bit(l7.c, 11);
    f.amx_tile = bit(l7.d, 24);
    f.amx_int8 = bit(l7.d, 25);
    if (l7.a >= 1) {
      const Regs l71 = cpuid(7, 1);
      f.avx_vnni = bit(l71.a, 4);
      f.avx512_bf16 = bit(l71.a, 5);
    }
  }

  const unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext >= 0x80000004u) {
    char buf[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002u + i, 0);
      std::memcpy(buf + 16 * i + 0, &r.a, 4);
      std::memcpy(buf + 16 * i + 4, &r.b, 4);
      std::memcpy(buf + 16 * i + 8, &r.c, 4);
      std::memcpy(buf + 16 * i + 12, &r.d, 4);
    }
    std::string s(buf);
    const auto first = s.find_first_not_of(' ');
    const auto last = s.find_last_not_of(' ');
    f.brand = first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
  }
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string isa_flags() {
  const CpuFeatures& f = cpu_features();
  std::vector<std::string> names;
  auto add = [&](bool on, const char* n) {
    if (on) names.emplace_back(n);
  };
  add(f.sse42, "sse4_2");
  add(f.avx && f.os_ymm, "avx");
  add(f.avx2 && f.os_ymm, "avx2");
  add(f.fma && f.os_ymm, "fma");
  add(f.f16c && f.os_ymm, "f16c");
  add(f.avx_vnni && f.os_ymm, "avx_vnni");
  add(f.avx512f && f.os_zmm, "avx512f");
  add(f.avx512bw && f.os_zmm, "avx512bw");
  add(f.avx512vl && f.os_zmm, "avx512vl");
  add(f.avx512dq && f.os_zmm, "avx512dq");
  add(f.avx512_vnni && f.os_zmm, "avx512_vnni");
  add(f.avx512_bf16 && f.os_zmm, "avx512_bf16");
  add(f.amx_int8 && f.os_amx, "amx_int8");
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ' ';
    out += n;
  }
  return out;
}

}  // namespace infeng

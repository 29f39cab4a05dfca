// Dispatch: path names, why an unusable path is refused, and proof that a forced path is the
// one whose microkernels ran (through the driver's last_path()/kernel_calls() record).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "infeng/dispatch.h"
#include "infeng/gemm.h"

namespace {

using infeng::Path;
namespace gm = infeng::gemm;

const Path kAll[] = {Path::Scalar, Path::Avx2, Path::Avx512};

// Runs one small matmul with weights packed for the active path; returns that path.
Path run_small_matmul() {
  const int K = 24, N = 40, M = 3;
  std::vector<float> W(K * N, 0.25f), x(M * K, 1.0f), y(M * N);
  auto P = gm::pack_weights(W.data(), K, N, N);  // active_path()
  gm::matmul(x.data(), M, K, P, y.data(), N);
  for (float v : y) EXPECT_FLOAT_EQ(v, 6.0f);
  return P.path;
}

TEST(Dispatch, ParsePathNames) {
  for (Path p : kAll) EXPECT_EQ(infeng::parse_path(infeng::path_name(p)), p);
  for (const char* bad : {"sse", "", "AVX2", "avx-512", "auto "}) {
    try {
      infeng::parse_path(bad);
      ADD_FAILURE() << "parse_path accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Dispatch, FeaturesAreConsistent) {
  const auto& f = infeng::cpu_features();
  // The OS enabling ZMM state implies it enables YMM state.
  if (f.os_zmm) EXPECT_TRUE(f.os_ymm);
  EXPECT_TRUE(infeng::path_supported(Path::Scalar));
  EXPECT_EQ(infeng::path_supported(Path::Avx2),
            infeng::path_compiled(Path::Avx2) && f.avx2 && f.fma && f.os_ymm && f.f16c);
  EXPECT_EQ(infeng::path_supported(Path::Avx512),
            infeng::path_compiled(Path::Avx512) && f.avx512f && f.avx512bw && f.avx512vl &&
                f.avx512dq && f.fma && f.f16c && f.os_zmm);
  const std::string flags = infeng::isa_flags();
  if (infeng::path_supported(Path::Avx512)) EXPECT_NE(flags.find("avx512f"), std::string::npos);
}

TEST(Dispatch, AutoIsTheBestSupportedPath) {
  const Path best = infeng::best_path();
  EXPECT_TRUE(infeng::path_supported(best));
  for (Path p : kAll)
    if (static_cast<int>(p) > static_cast<int>(best)) EXPECT_FALSE(infeng::path_supported(p));
  EXPECT_EQ(infeng::resolve_path("auto"), best);
}

TEST(Dispatch, ResolveRefusesUnusablePathsAndSaysWhy) {
  EXPECT_THROW(infeng::resolve_path("neon"), std::invalid_argument);
  int refused = 0;
  for (Path p : kAll) {
    if (infeng::path_supported(p)) {
      EXPECT_EQ(infeng::resolve_path(infeng::path_name(p)), p);
      continue;
    }
    ++refused;
    try {
      infeng::resolve_path(infeng::path_name(p));
      ADD_FAILURE() << "resolve_path accepted unsupported " << infeng::path_name(p);
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(infeng::path_name(p)), std::string::npos) << msg;
      const bool says_why = msg.find("not compiled") != std::string::npos ||
                            msg.find("CPU") != std::string::npos ||
                            msg.find("OS") != std::string::npos;
      EXPECT_TRUE(says_why) << msg;
    }
  }
  if (refused == 0) GTEST_SKIP() << "every path is usable on this machine: nothing to refuse";
}

TEST(Dispatch, ReasonNamesTheMissingPiece) {
  infeng::CpuFeatures f;
  f.avx = f.avx2 = f.fma = f.f16c = f.os_ymm = true;
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = true;
  f.os_zmm = true;
  EXPECT_EQ(infeng::unsupported_reason(Path::Scalar, f), "");
  if (infeng::path_compiled(Path::Avx512)) {
    EXPECT_EQ(infeng::unsupported_reason(Path::Avx512, f), "");
    infeng::CpuFeatures no_os = f;
    no_os.os_zmm = false;  // cpuid lists AVX-512, XCR0 does not enable ZMM/opmask state
    const std::string why = infeng::unsupported_reason(Path::Avx512, no_os);
    EXPECT_NE(why.find("avx512"), std::string::npos) << why;
    EXPECT_NE(why.find("OS"), std::string::npos) << why;
    infeng::CpuFeatures no_bw = f;
    no_bw.avx512bw = false;
    const std::string why2 = infeng::unsupported_reason(Path::Avx512, no_bw);
    EXPECT_NE(why2.find("CPU"), std::string::npos) << why2;
    EXPECT_NE(why2.find("avx512bw"), std::string::npos) << why2;
  } else {
    EXPECT_NE(infeng::unsupported_reason(Path::Avx512, f).find("not compiled"), std::string::npos);
  }
  if (infeng::path_compiled(Path::Avx2)) {
    infeng::CpuFeatures no_ymm = f;
    no_ymm.os_ymm = no_ymm.os_zmm = false;
    const std::string why = infeng::unsupported_reason(Path::Avx2, no_ymm);
    EXPECT_NE(why.find("avx2"), std::string::npos) << why;
    EXPECT_NE(why.find("OS"), std::string::npos) << why;
    infeng::CpuFeatures no_fma = f;
    no_fma.fma = false;
    EXPECT_NE(infeng::unsupported_reason(Path::Avx2, no_fma).find("fma"), std::string::npos);
  }
}

TEST(ForcedPath, ForcePathSelectsTheKernelsThatRun) {
  for (Path p : kAll) {
    if (!infeng::path_supported(p)) {
      EXPECT_ANY_THROW(infeng::force_path(infeng::path_name(p)));
      continue;
    }
    infeng::force_path(infeng::path_name(p));
    EXPECT_EQ(infeng::active_path(), p);
    const auto before = gm::kernel_calls(p);
    EXPECT_EQ(run_small_matmul(), p);
    EXPECT_EQ(gm::last_path(), p);
    EXPECT_EQ(gm::kernel_calls(p), before + 1);
  }
  EXPECT_THROW(infeng::force_path("bogus"), std::invalid_argument);
  infeng::clear_forced_path();
}

// The child half of the environment-variable test: only meaningful when the parent test
// below runs this binary with INFENG_FORCE_PATH and INFENG_TEST_EXPECT_PATH set.
TEST(ForcedPathChild, EnvironmentVariableChoosesPath) {
  const char* expect = std::getenv("INFENG_TEST_EXPECT_PATH");
  if (expect == nullptr) GTEST_SKIP() << "run by ForcedPath.EnvironmentVariableInChildProcess";
  if (std::string(expect) == "error") {
    EXPECT_THROW(infeng::active_path(), std::runtime_error);
    return;
  }
  const Path want = infeng::parse_path(expect);
  ASSERT_EQ(infeng::active_path(), want);
  EXPECT_EQ(run_small_matmul(), want);
  EXPECT_EQ(gm::last_path(), want);
  EXPECT_EQ(gm::kernel_calls(want), 1u);
  // force_path() overrides the variable for the rest of the process.
  infeng::force_path("scalar");
  EXPECT_EQ(run_small_matmul(), Path::Scalar);
  EXPECT_EQ(gm::last_path(), Path::Scalar);
}

int run_child(const std::string& force, const std::string& expect) {
  const std::string cmd = "INFENG_FORCE_PATH=" + force + " INFENG_TEST_EXPECT_PATH=" + expect +
                          " '" INFENG_TESTS_EXE "' '--gtest_filter=ForcedPathChild.*' "
                          ">/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(ForcedPath, EnvironmentVariableInChildProcess) {
  for (Path p : kAll) {
    if (!infeng::path_supported(p)) continue;
    EXPECT_EQ(run_child(infeng::path_name(p), infeng::path_name(p)), 0)
        << "INFENG_FORCE_PATH=" << infeng::path_name(p);
  }
  EXPECT_EQ(run_child("auto", infeng::path_name(infeng::best_path())), 0);
  EXPECT_EQ(run_child("bogus", "error"), 0);
  // The child really checks: a wrong expectation must fail it.
  if (infeng::best_path() != Path::Scalar) EXPECT_NE(run_child("scalar", infeng::path_name(infeng::best_path())), 0);
}

}  // namespace

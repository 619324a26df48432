// Shared helpers of the fuzz targets (tests/fuzz/README in docs/reliability.md).
//
// Every target defines LLVMFuzzerTestOneInput. An hrnet::Error (IoError, ValueError, ConfigError,
// ImageError, ...) is the expected outcome for a bad input and is swallowed; anything else
// (std::bad_alloc, std::out_of_range, a YAML or nlohmann exception that escaped the library) is a
// finding and is left to escape, so libFuzzer reports it as a crash (uncaught exception -> abort).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "hrnet/core/error.hpp"

namespace hrnet::fuzz {

// A folder private to this process (entry points that only take a path read the input from a file in
// it); removed at exit.
inline const std::filesystem::path& scratch_dir() {
  // never destroyed: the atexit handler below runs after the destructors of function statics
  // constructed before it was registered
  static const std::filesystem::path* dir = [] {
    const char* env = std::getenv("HRNET_FUZZ_TMPDIR");
    std::filesystem::path base = env && *env ? std::filesystem::path(env) : std::filesystem::temp_directory_path();
    auto* d = new std::filesystem::path(base / ("hrnet_fuzz_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    return d;
  }();
  static const bool cleanup_registered = [] {
    return std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    }) == 0;
  }();
  (void)cleanup_registered;
  return *dir;
}

// Writes the input to `rel` under the scratch folder (creating parent folders) and returns its path.
inline std::filesystem::path write_input(const std::string& rel, const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path p = scratch_dir() / rel;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", p.c_str());
    std::abort();
  }
  return p;
}

// Runs `f`; an hrnet::Error is an accepted outcome for a hostile input, everything else escapes.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const hrnet::Error&) {
  }
}

// A property that must hold for every input that parses (a round trip, a bound): abort otherwise, so
// the fuzzer keeps the input.
#define HRNET_FUZZ_ASSERT(cond)                                                              \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "fuzz property failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

}  // namespace hrnet::fuzz

// Helpers shared by the tests: fixture loading and tolerance comparisons with readable failures.
#pragma once
#include <catch2/catch.hpp>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <sstream>
#include <string>

#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"

namespace hrnet::test {

// The committed fixtures (tests/fixtures/data). The environment variable of the same name wins
// over the path compiled in, so that a build carried to another machine (benchmarks/gpu_check.sh)
// finds them in that machine's copy of the repository.
inline std::filesystem::path fixture_dir() {
  const char* env = std::getenv("HRNET_FIXTURE_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(HRNET_FIXTURE_DIR);
}
inline io::SafetensorsFile fixture(const std::string& name) {
  return io::read_safetensors(fixture_dir() / (name + ".safetensors"));
}
template <class T = float>
Tensor<T, CPU> get(const io::SafetensorsFile& f, const std::string& key) {
  return io::get<T>(f, key);
}
inline double meta_num(const io::SafetensorsFile& f, const std::string& key) {
  auto it = f.metadata.find(key);
  REQUIRE(it != f.metadata.end());
  return std::stod(it->second);
}

// |a - e| <= atol + rtol * |e| everywhere; on failure reports the worst element.
template <class A, class E>
void require_close(const Tensor<A, CPU>& a, const Tensor<E, CPU>& e, double rtol, double atol, const std::string& what) {
  INFO(what << ": shapes " << a.shape() << " vs " << e.shape());
  REQUIRE(a.shape() == e.shape());
  double worst = 0, worst_a = 0, worst_e = 0;
  std::int64_t worst_i = -1;
  bool ok = true;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double x = double(a[i]), y = double(e[i]);
    const double excess = std::abs(x - y) - (atol + rtol * std::abs(y));
    if (!(excess <= 0)) ok = false;
    if (worst_i < 0 || excess > worst || std::isnan(x)) {
      worst = excess;
      worst_i = i;
      worst_a = x;
      worst_e = y;
    }
  }
  INFO(what << ": worst element " << worst_i << " got " << worst_a << " expected " << worst_e << " (rtol " << rtol
            << ", atol " << atol << ")");
  CHECK(ok);
}

}  // namespace hrnet::test

namespace hrnet::test {
// Runs `f`, requires it to throw E, and requires the message to contain `phrase`.
template <class E, class F>
void check_throws(F&& f, const std::string& phrase) {
  try {
    f();
  } catch (const E& e) {
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(phrase));
    return;
  } catch (const std::exception& e) {
    FAIL("threw a different exception type: " << e.what());
  }
  FAIL("did not throw; expected a message containing: " << phrase);
}
}  // namespace hrnet::test

namespace hrnet::test {
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressLimitWorks = false;  // ASan reserves terabytes of shadow memory
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kAddressLimitWorks = false;
#else
inline constexpr bool kAddressLimitWorks = true;
#endif
#else
inline constexpr bool kAddressLimitWorks = true;
#endif

// Runs f() in a child process whose address space may grow by at most `extra_bytes` beyond this
// process's current size (RLIMIT_AS). Returns "ok", "bad_alloc", "threw: <what>", or how the
// child ended. Callers skip when !kAddressLimitWorks.
inline std::string run_with_memory_limit(std::size_t extra_bytes, const std::function<void()>& f) {
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t limit = rlim_t(pages) * rlim_t(::sysconf(_SC_PAGESIZE)) + extra_bytes;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_AS, &rl) != 0) ::_exit(20);
    int code = 0;
    try {
      f();
    } catch (const std::bad_alloc&) {
      code = 11;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child threw: %s\n", e.what());
      code = 12;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return "fork/wait failed";
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  switch (WEXITSTATUS(status)) {
    case 0: return "ok";
    case 11: return "bad_alloc";
    case 12: return "threw (message on stderr)";
    default: return "exit " + std::to_string(WEXITSTATUS(status));
  }
}
}  // namespace hrnet::test

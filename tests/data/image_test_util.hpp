// Helpers of the tests/image tests: temporary folders, files, running programs.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace hrnet::test_image {

namespace fs = std::filesystem;

// A fresh temporary folder, removed when the object goes away.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> n{0};
    path = fs::temp_directory_path() / ("hrnet_image_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& rel) const { return path / rel; }
};

inline std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command with stdout and stderr captured; returns the exit status (-1 if killed).
struct RunResult {
  int status = -1;
  std::string out, err;
};
inline RunResult run(const std::string& command, const TempDir& scratch) {
  const fs::path o = scratch / "stdout.txt", e = scratch / "stderr.txt";
  const int rc = std::system((command + " >" + quote(o.string()) + " 2>" + quote(e.string())).c_str());
  RunResult r;
  r.status = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = read_text(o);
  r.err = read_text(e);
  return r;
}

// The python interpreter used for the oracles: $HRNET_PYTHON, else python3 on PATH.
inline std::string python() {
  const char* p = std::getenv("HRNET_PYTHON");
  return p && *p ? std::string(p) : std::string("python3");
}

}  // namespace hrnet::test_image

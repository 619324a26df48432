// main() for the fuzz targets where libFuzzer is not available (g++ builds): feeds every regular
// file of the given folders (or the given files) to LLVMFuzzerTestOneInput, in name order, so every
// target replays its corpus and its crash files as a ctest test. An exception escaping the target is
// a failure here too (it names the file); a sanitizer report aborts the process.
//   usage: fuzz_<target> [--min N] DIR_OR_FILE...   (--min: fail when fewer than N inputs were found)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::size_t min_inputs = 1;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--min" && i + 1 < argc) {
      min_inputs = std::strtoul(argv[++i], nullptr, 10);
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(a))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(a, ec)) {
      files.push_back(a);
    } else {
      std::fprintf(stderr, "replay: %s is neither a folder nor a file\n", a.c_str());
      return 2;
    }
  }
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
      return 2;
    }
    // a copy of exactly `size` bytes on the heap, as libFuzzer passes it (ASan sees reads past the end)
    std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
    auto* p = data.empty() ? nullptr : data.data();
    try {
      LLVMFuzzerTestOneInput(p, data.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replay: FAIL %s: uncaught %s\n", f.c_str(), e.what());
      return 1;
    } catch (...) {
      std::fprintf(stderr, "replay: FAIL %s: uncaught non-std exception\n", f.c_str());
      return 1;
    }
  }
  std::printf("replayed %zu inputs\n", files.size());
  if (files.size() < min_inputs) {
    std::fprintf(stderr, "replay: only %zu inputs, expected at least %zu (corpus missing?)\n", files.size(), min_inputs);
    return 1;
  }
  return 0;
}

// bench_cls_pipeline: decode + augment throughput of the classification input pipeline on one core,
// against PIL + torchvision (and OpenCV where importable) on the same files in the same run.
//
// Makes --images ImageNet-like JPEGs (about 500x375 with some size variety, quality 90, photo-like
// content from data::render_photo_like), writes them to a folder, and times single-threaded passes
// over them of: file read + decode + the training transform (RandomResizedCrop(224) + flip +
// normalise) and the evaluation transform (Resize(256) + CenterCrop(224) + normalise), each with
// DecodeMode::kExact and kFast (hrnet/data/cls_decode_transforms.hpp), plus file read + full decode
// alone. Alternates with bench_cls_pipeline_torch.py on the same files (PIL + torchvision, OpenCV):
// --rounds rounds of (hrnet, Python), then hrnet once more; the machine may be shared, so every round
// is reported and the ratios use the medians over all passes. Writes one JSON with the CPU, its ISA
// flags, library versions, images/s and ratios.
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hrnet/core/rng.hpp"
#include "hrnet/data/cls_decode_transforms.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/data/jpeg_region.hpp"
#include "hrnet/data/synthetic_cls.hpp"

using namespace hrnet;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  HRNET_CHECK(in.good(), IoError, "cannot open " << p);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  in.seekg(0);
  std::vector<std::uint8_t> b(size);
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(size));
  HRNET_CHECK(in.good(), IoError, "cannot read " << p);
  return b;
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (c == '\n') o += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o + "\"";
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a command, returns its exit status and standard output (stderr goes to our stderr).
int run_capture(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Cpu {
  std::string model;
  std::vector<std::string> isa;  // the flags of interest that /proc/cpuinfo lists
  std::vector<std::string> family_model;  // cpu family, model, stepping
  std::string mhz;
  long cores_online = 0;
};
Cpu cpu_info() {
  Cpu c;
  c.cores_online = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line)) {
    if (c.model.empty() && line.rfind("model name", 0) == 0) c.model = line.substr(line.find(':') + 2);
    if (c.family_model.size() < 3 && (line.rfind("cpu family", 0) == 0 || line.rfind("model\t", 0) == 0 || line.rfind("stepping", 0) == 0))
      c.family_model.push_back(line.substr(line.find(':') + 2));
    if (c.mhz.empty() && line.rfind("cpu MHz", 0) == 0) c.mhz = line.substr(line.find(':') + 2);
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = " " + line.substr(line.find(':') + 2) + " ";
  }
  for (const char* f : {"sse4_2", "avx", "avx2", "fma", "bmi2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"})
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) c.isa.push_back(f);
  return c;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%F", std::localtime(&t));
  return b;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// images/s of every timed pass, per round
struct Rates {
  std::vector<std::vector<double>> rounds;
  double median() const {
    std::vector<double> all;
    for (const auto& r : rounds) all.insert(all.end(), r.begin(), r.end());
    return median_of(all);
  }
};

struct Case {
  std::string name, what;
  std::function<void(const fs::path&, Rng&, float*)> fn;
  Rates rates;
};

void time_round(std::vector<Case>& cases, const std::vector<fs::path>& files, int reps, std::int64_t size) {
  std::vector<float> out(static_cast<std::size_t>(size * size * 3));
  for (Case& c : cases) {
    Rng rng(17);
    for (std::size_t i = 0; i < std::min<std::size_t>(10, files.size()); ++i) c.fn(files[i], rng, out.data());  // warm-up
    std::vector<double>& round = c.rates.rounds.emplace_back();
    for (int r = 0; r < reps; ++r) {
      Rng pass_rng(static_cast<std::uint64_t>(r));
      const auto t0 = std::chrono::steady_clock::now();
      for (const fs::path& f : files) c.fn(f, pass_rng, out.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      round.push_back(double(files.size()) / s);
    }
    std::printf("hrnet round %zu  %-14s %8.1f images/s (median of %d passes)\n", c.rates.rounds.size(), c.name.c_str(),
                median_of(round), reps);
    std::fflush(stdout);
  }
}

void write_rates(std::ostream& f, const Rates& r) {
  f << "\"images_per_s\": " << r.median() << ", \"rounds_images_per_s\": [";
  for (std::size_t i = 0; i < r.rounds.size(); ++i) {
    f << (i ? ", " : "") << "[";
    for (std::size_t k = 0; k < r.rounds[i].size(); ++k) f << (k ? ", " : "") << r.rounds[i][k];
    f << "]";
  }
  f << "]";
}

}  // namespace

int main(int argc, char** argv) {
  int images = 200, reps = 5, quality = 90, rounds = 2;
  std::uint64_t seed = 0;
  std::string json, dir_arg, python, script = BENCH_CLS_TORCH_SCRIPT, what = "all";
  bool keep = false, no_python = false;
  try {
    cli::Args args(argc, argv);
    while (args.next()) {
      const std::string& a = args.key();
      if (a == "--help" || a == "-h") {
        std::puts(
            "usage: bench_cls_pipeline [--images N] [--reps N] [--rounds R] [--quality Q] [--seed S] [--json FILE]\n"
            "                          [--dir DIR] [--keep] [--python EXE] [--torch_script FILE] [--no_python]\n"
            "                          [--what all|train|eval]\n"
            "Makes N ImageNet-like JPEGs (about 500x375, quality Q) and times, on one thread, file read + decode +\n"
            "the classification train / eval transform (224, Resize 256) in hrnet's kExact and kFast decode modes,\n"
            "then the same work with PIL + torchvision (and OpenCV where importable) by running\n"
            "bench_cls_pipeline_torch.py with $HRNET_PYTHON, else /usr/bin/python3 (--python overrides). The two\n"
            "alternate: R rounds of (hrnet, Python), then hrnet once more, each case --reps passes per round (the\n"
            "machine may be shared: the medians over all rounds are compared). --dir keeps the images in DIR (default: a temporary folder, removed unless\n"
            "--keep); --json writes the results (CPU, ISA flags, versions, images/s, ratios hrnet/PIL).");
        return 0;
      }
      if (a == "--images") images = static_cast<int>(args.integer(1));
      else if (a == "--reps") reps = static_cast<int>(args.integer(1));
      else if (a == "--rounds") rounds = static_cast<int>(args.integer(1));
      else if (a == "--quality") quality = static_cast<int>(args.integer(1));
      else if (a == "--seed") seed = static_cast<std::uint64_t>(args.integer(0));
      else if (a == "--json") json = args.value();
      else if (a == "--dir") dir_arg = args.value();
      else if (a == "--keep") keep = args.flag();
      else if (a == "--python") python = args.value();
      else if (a == "--torch_script") script = args.value();
      else if (a == "--no_python") no_python = args.flag();
      else if (a == "--what") {
        what = args.value();
        if (what != "all" && what != "train" && what != "eval") throw ValueError("--what must be all, train or eval");
      } else args.unknown();
    }
    if (quality > 100) throw ValueError("--quality must be in 1..100");
  } catch (const ValueError& e) {
    std::fprintf(stderr, "bench_cls_pipeline: error: %s\n", e.what());
    return 2;
  }
  if (python.empty()) {
    const char* env = std::getenv("HRNET_PYTHON");
    python = env && *env ? env : "/usr/bin/python3";
  }

  // 1. the images
  const fs::path dir = dir_arg.empty() ? fs::temp_directory_path() / ("hrnet_bench_cls_" + std::to_string(::getpid())) : fs::path(dir_arg);
  fs::create_directories(dir);
  const std::pair<int, int> shapes[] = {{375, 500}, {500, 375}, {333, 500}, {375, 500}, {400, 500}, {500, 333}, {281, 500}, {375, 500}};
  Rng gen(seed);
  std::vector<fs::path> files;
  double total_bytes = 0, total_pixels = 0;
  std::int64_t min_h = 1 << 30, max_h = 0, min_w = 1 << 30, max_w = 0;
  for (int i = 0; i < images; ++i) {
    auto [h, w] = shapes[gen.below(std::size(shapes))];
    h += static_cast<int>(gen.below(21)) - 10;  // size variety around the common ImageNet shapes
    w += static_cast<int>(gen.below(21)) - 10;
    const auto bytes = data::encode_jpeg(data::render_photo_like(h, w, seed * 100003u + static_cast<std::uint64_t>(i)), quality);
    char name[32];
    std::snprintf(name, sizeof name, "img_%05d.JPEG", i);
    files.push_back(dir / name);
    data::write_file_atomic(files.back(), bytes);
    total_bytes += double(bytes.size());
    total_pixels += double(h) * double(w);
    min_h = std::min<std::int64_t>(min_h, h), max_h = std::max<std::int64_t>(max_h, h);
    min_w = std::min<std::int64_t>(min_w, w), max_w = std::max<std::int64_t>(max_w, w);
  }
  std::printf("%d JPEGs in %s: %.1f KB and %.2f bits per pixel on average, quality %d\n", images, dir.c_str(),
              total_bytes / images / 1024, 8 * total_bytes / total_pixels, quality);

  // 2. our cases
  const data::ClsTransformOptions o = data::official_cls_transform(224);
  using data::DecodeMode;
  std::vector<Case> cases;
  cases.push_back({"decode_full", "file read + decode_image (full resolution, as kExact does)",
                   [](const fs::path& f, Rng&, float*) {
                     const auto b = read_file(f);
                     const data::Image img = data::decode_image(b, f.string());
                     if (img.empty()) std::abort();
                   }, {}});
  auto train = [&](DecodeMode m) {
    return [&o, m](const fs::path& f, Rng& rng, float* out) {
      const auto b = read_file(f);
      data::cls_train_transform_encoded(b, f.string(), o, rng, out, m);
    };
  };
  auto eval = [&](DecodeMode m) {
    return [&o, m](const fs::path& f, Rng&, float* out) {
      const auto b = read_file(f);
      data::cls_eval_transform_encoded(b, f.string(), o, out, m);
    };
  };
  if (what != "eval") {
    cases.push_back({"train_exact", "file read + cls_train_transform_encoded(kExact)", train(DecodeMode::kExact), {}});
    cases.push_back({"train_fast", "file read + cls_train_transform_encoded(kFast)", train(DecodeMode::kFast), {}});
  }
  if (what != "train") {
    cases.push_back({"eval_exact", "file read + cls_eval_transform_encoded(kExact)", eval(DecodeMode::kExact), {}});
    cases.push_back({"eval_fast", "file read + cls_eval_transform_encoded(kFast)", eval(DecodeMode::kFast), {}});
  }
  // 3. hrnet and Python alternate, the same files
  std::map<std::string, Rates> py;
  std::map<std::string, std::string> py_missing;
  std::vector<std::string> py_runs;  // the JSON each Python run wrote
  std::string python_missing, cv2_python;
  auto run_python = [&](const std::string& exe, const std::string& which) {
    const fs::path out_json = dir / ("python_" + which + ".json");
    std::error_code ec;
    fs::remove(out_json, ec);
    std::string out;
    const std::string cmd = shell_quote(exe) + " " + shell_quote(script) + " --dir " + shell_quote(dir.string()) +
                            " --reps " + std::to_string(reps) + " --what " + which + " --json " + shell_quote(out_json.string());
    std::printf("running %s\n", cmd.c_str());
    std::fflush(stdout);
    const int rc = run_capture(cmd, out);
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream ls(line);
      std::string tag, name;
      ls >> tag >> name;
      if (tag == "PASSES") {
        std::vector<double>& round = py[name].rounds.emplace_back();
        for (double v; ls >> v;) round.push_back(v);
        std::printf("python      %-18s %8.1f images/s (median of %zu passes)\n", name.c_str(), median_of(round), round.size());
      } else if (tag == "MISSING") {
        std::string why;
        std::getline(ls, why);
        py_missing[name] = why.empty() ? why : why.substr(1);
        std::printf("python      %-18s missing: %s\n", name.c_str(), py_missing[name].c_str());
      }
    }
    if (rc == 0 && fs::exists(out_json)) {
      std::ifstream in(out_json);
      py_runs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return rc;
  };
  if (no_python) python_missing = "--no_python given";
  else if (::access(python.c_str(), X_OK) != 0 && python.find('/') != std::string::npos)
    python_missing = "interpreter " + python + " not found (set HRNET_PYTHON or --python)";
  else if (!fs::exists(script))
    python_missing = "script " + script + " not found (--torch_script)";
  const std::string load_start = loadavg();
  for (int round = 0; round < rounds; ++round) {
    time_round(cases, files, reps, o.size);
    if (!python_missing.empty()) continue;
    const int rc = run_python(python, round == 0 || cv2_python.empty() ? "pil,cv2" : "pil");
    if (rc != 0) {
      python_missing = python + " exited with status " + std::to_string(rc);
      continue;
    }
    // OpenCV may live in another interpreter (python3 on PATH) than torch
    if (round == 0 && py_missing.count("cv2_train")) {
      std::string which_out;
      if (run_capture("command -v python3", which_out) == 0) {
        which_out.erase(which_out.find_last_not_of("\n") + 1);
        std::error_code ec;
        if (!which_out.empty() && !fs::equivalent(which_out, python, ec)) cv2_python = which_out;
      }
    }
    if (!cv2_python.empty()) {
      py_missing.erase("cv2_train"), py_missing.erase("cv2_eval");
      run_python(cv2_python, "cv2");
    }
  }
  time_round(cases, files, reps, o.size);
  const std::string load_end = loadavg();

  // 4. report
  auto ours = [&](const std::string& n) {
    for (const Case& c : cases)
      if (c.name == n) return c.rates.median();
    return 0.0;
  };
  std::vector<std::pair<std::string, double>> ratios;
  for (const char* mode : {"exact", "fast"})
    for (const char* t : {"train", "eval"})
      for (const char* lib : {"pil", "cv2"}) {
        const std::string a = std::string(t) + "_" + mode, b = std::string(lib) + "_" + t;
        if (ours(a) > 0 && py.count(b) && py[b].median() > 0) ratios.push_back({a + "_over_" + b, ours(a) / py[b].median()});
      }
  std::printf("\nmedian images/s on one core (all rounds):\n");
  for (const Case& c : cases) std::printf("  hrnet %-14s %8.1f\n", c.name.c_str(), c.rates.median());
  for (const auto& [n, r] : py) std::printf("  %-20s %8.1f\n", n.c_str(), r.median());
  for (const auto& [n, r] : ratios) std::printf("  %-32s %6.2fx\n", n.c_str(), r);
  double target_ratio = 0;
  for (const auto& [n, r] : ratios)
    if (n == "train_fast_over_pil_train") target_ratio = r;

  if (!json.empty()) {
    const Cpu cpu = cpu_info();
    utsname u{};
    ::uname(&u);
    std::ofstream f(json);
    f << "{\n  \"benchmark\": \"bench_cls_pipeline\",\n  \"date\": " << json_string(today()) << ",\n";
    std::string fms;
    for (std::size_t i = 0; i < cpu.family_model.size(); ++i) fms += (i ? "/" : "") + cpu.family_model[i];
    f << "  \"machine\": {\"cpu\": " << json_string(cpu.model) << ", \"family_model_stepping\": " << json_string(fms)
      << ", \"cpu_mhz\": " << json_string(cpu.mhz) << ", \"isa\": [";
    for (std::size_t i = 0; i < cpu.isa.size(); ++i) f << (i ? ", " : "") << json_string(cpu.isa[i]);
    f << "], \"avx2\": " << (std::find(cpu.isa.begin(), cpu.isa.end(), "avx2") != cpu.isa.end() ? "true" : "false")
      << ", \"avx512f\": " << (std::find(cpu.isa.begin(), cpu.isa.end(), "avx512f") != cpu.isa.end() ? "true" : "false")
      << ", \"cores_online\": " << cpu.cores_online << ", \"kernel\": " << json_string(std::string(u.sysname) + " " + u.release)
      << ", \"loadavg_start\": " << json_string(load_start) << ", \"loadavg_end\": " << json_string(load_end) << "},\n";
#if defined(__clang__)
    const std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    const std::string compiler = std::string("g++ ") + __VERSION__;
#else
    const std::string compiler = "unknown";
#endif
    f << "  \"build\": {\"compiler\": " << json_string(compiler) << ", \"jpeg_backend\": " << json_string(data::jpeg_backend())
      << ", \"jpeg_backend_version\": " << json_string(data::jpeg_backend_version()) << "},\n";
    f << "  \"threads\": 1,\n  \"reps_per_round\": " << reps << ",\n";
    f << "  \"images\": {\"count\": " << images << ", \"quality\": " << quality << ", \"height_range\": [" << min_h << ", " << max_h
      << "], \"width_range\": [" << min_w << ", " << max_w << "], \"mean_bytes\": " << total_bytes / images
      << ", \"mean_bits_per_pixel\": " << 8 * total_bytes / total_pixels
      << ", \"content\": \"data::render_photo_like (value noise, shapes, sensor noise), data::encode_jpeg 4:2:0\", "
         "\"files\": \"in the page cache (written just before)\"},\n";
    f << "  \"transform\": {\"size\": " << o.size << ", \"resize\": " << o.resize
      << ", \"outputs\": \"hrnet: float32 HWC (one image of an NHWC batch); torchvision: float32 CHW tensor; cv2: float32 HWC numpy\"},\n";
    f << "  \"method\": \"single thread; per case a warm-up over 10 files, then reps passes over all files, images/s per pass; "
         "rounds of (hrnet, Python) alternate and hrnet runs once more at the end (rounds_images_per_s); images_per_s is the "
         "median over all passes of all rounds, for hrnet and Python alike\",\n";
    f << "  \"rounds\": " << rounds << ",\n  \"hrnet\": {\n";
    for (std::size_t i = 0; i < cases.size(); ++i) {
      f << "    " << json_string(cases[i].name) << ": {\"what\": " << json_string(cases[i].what) << ", ";
      write_rates(f, cases[i].rates);
      f << "}" << (i + 1 < cases.size() ? ",\n" : "\n");
    }
    f << "  },\n  \"python\": {\"interpreter\": " << json_string(python) << ", \"cv2_interpreter\": "
      << (cv2_python.empty() ? "null" : json_string(cv2_python)) << ", \"missing\": "
      << (python_missing.empty() ? "null" : json_string(python_missing)) << ",\n    \"cases\": {";
    {
      std::size_t k = 0;
      for (const auto& [n, r] : py) {
        f << (k++ ? ",\n      " : "\n      ") << json_string(n) << ": {";
        write_rates(f, r);
        f << "}";
      }
    }
    f << "},\n    \"cases_missing\": {";
    {
      std::size_t k = 0;
      for (const auto& [n, why] : py_missing) f << (k++ ? ", " : "") << json_string(n) << ": " << json_string(why);
    }
    f << "},\n    \"runs\": [";
    for (std::size_t i = 0; i < py_runs.size(); ++i) f << (i ? ",\n" : "\n") << py_runs[i];
    f << "]},\n";
    f << "  \"ratios_hrnet_over_python\": {";
    for (std::size_t i = 0; i < ratios.size(); ++i) f << (i ? ", " : "") << json_string(ratios[i].first) << ": " << ratios[i].second;
    f << "},\n  \"target\": {\"what\": \"train_fast_over_pil_train >= 2\", \"ratio\": " << target_ratio
      << ", \"met\": " << (target_ratio >= 2.0 ? "true" : "false") << "}\n}\n";
    std::printf("results written to %s\n", json.c_str());
  }
  if (dir_arg.empty() && !keep) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}

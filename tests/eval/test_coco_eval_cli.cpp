// The coco_eval tool: output lines against pycocotools' printed summary, --json, exit codes.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr
};

Run run(const std::string& args) {
  const std::string cmd = std::string("'") + HRNET_COCO_EVAL_BIN + "' " + args + " 2>&1";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string data(const std::string& name) { return "'" + (fs::path(HRNET_EVAL_DATA_DIR) / name).string() + "'"; }

nlohmann::json expected(const std::string& name) {
  std::ifstream in(fs::path(HRNET_EVAL_DATA_DIR) / (name + "_expected.json"));
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

struct TempDir {
  fs::path dir = fs::temp_directory_path() / ("hrnet_eval_cli_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(dir); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

TEST_CASE("coco_eval tool: prints pycocotools' ten lines", "[eval][cli]") {
  for (const char* name : {"random_a", "random_c"}) {
    const Run r = run("--gt " + data(std::string(name) + "_gt.json") + " --dt " + data(std::string(name) + "_results.json"));
    INFO(r.out);
    CHECK(r.code == 0);
    CHECK(r.out == expected(name)["lines"].get<std::string>());
  }
}

TEST_CASE("coco_eval tool: --json and --images", "[eval][cli]") {
  TempDir tmp;
  const nlohmann::json exp = expected("random_b");
  std::string ids;
  for (const auto& v : exp["image_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(v.get<long long>());
  const fs::path out = tmp.dir / "stats.json";
  const Run r = run("--gt " + data("random_b_gt.json") + " --dt=" + data("random_b_results.json") + " --images " + ids +
                    " --json '" + out.string() + "'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out == exp["lines"].get<std::string>());
  std::ifstream in(out);
  REQUIRE(in);
  const nlohmann::json j = nlohmann::json::parse(in);
  REQUIRE(j.size() == 10);
  const char* names[10] = {"AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)"};
  for (int i = 0; i < 10; ++i) {
    INFO(names[i]);
    CHECK(std::abs(j.at(names[i]).get<double>() - exp["stats"][i].get<double>()) <= 1e-6);
  }
  // all images: different numbers, i.e. --images was applied
  const Run all = run("--gt " + data("random_b_gt.json") + " --dt " + data("random_b_results.json"));
  CHECK(all.code == 0);
  CHECK(all.out != r.out);
}

TEST_CASE("coco_eval tool: help and bad arguments", "[eval][cli]") {
  TempDir tmp;
  Run r = run("--help");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Matchers::Contains("usage: coco_eval --gt"));

  struct Case {
    std::string args, phrase;
    int code;
  };
  const std::string gt = data("random_a_gt.json"), dt = data("random_a_results.json");
  const Case cases[] = {
      {"", "missing --gt", 2},
      {"--gt " + gt, "missing --dt", 2},
      {"--gt " + gt + " --dt", "--dt needs a value", 2},
      {"--gt " + gt + " --dt " + dt + " --frobnicate", "unknown argument \"--frobnicate\"", 2},
      {"--gt " + gt + " --dt " + dt + " --images 1,x", "--images: \"x\" is not an image id", 2},
      {"--gt '" + (tmp.dir / "nope.json").string() + "' --dt " + dt, "ground-truth file not found", 1},
      {"--gt " + dt + " --dt " + dt, "the top level is not a JSON object", 1},
      {"--gt " + gt + " --dt " + gt, "results must be a JSON array of objects", 1},
      // random_a's results are not on random_c's images
      {"--gt " + data("random_c_gt.json") + " --dt " + dt, "is not an image of the ground truth", 1},
      {"--gt " + gt + " --dt " + dt + " --images 1", "image id 1 of the requested images is not in the ground truth", 1},
      {"--gt " + gt + " --dt " + dt + " --json '" + (tmp.dir / "no/dir/s.json").string() + "'", "cannot create", 1},
  };
  for (const Case& c : cases) {
    r = run(c.args);
    INFO(c.args << "\n" << r.out);
    CHECK(r.code == c.code);
    CHECK_THAT(r.out, Catch::Matchers::Contains(c.phrase));
    CHECK_THAT(r.out, Catch::Matchers::Contains("coco_eval: error: "));
  }
  // the results file is named when a result is bad
  r = run("--gt " + data("random_c_gt.json") + " --dt " + dt);
  CHECK_THAT(r.out, Catch::Matchers::Contains("random_a_results.json: results[0]: image_id"));
}

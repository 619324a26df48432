// The programs' shared command-line parser (examples/common/cli.hpp): snake_case names are primary,
// kebab-case spellings and renamed flags (--out) are aliases that reach the same option, and the
// messages name the option as the user typed it.
#include <string>
#include <vector>

#include "cli.hpp"
#include "test_util.hpp"

using hrnet::ValueError;
using hrnet::cli::Args;
using hrnet::cli::primary_name;
using hrnet::test::check_throws;

namespace {
// argv for Args: the strings stay alive as long as the Argv does.
struct Argv {
  explicit Argv(std::vector<std::string> words) : words_(std::move(words)) {
    ptrs_.push_back(const_cast<char*>("prog"));
    for (auto& w : words_) ptrs_.push_back(w.data());
    ptrs_.push_back(nullptr);
  }
  Args args() { return Args(static_cast<int>(ptrs_.size()) - 1, ptrs_.data()); }

 private:
  std::vector<std::string> words_;
  std::vector<char*> ptrs_;
};

// What a program like infer_pose/valid_pose reads from its command line.
struct Parsed {
  long long max_images = -1;
  bool no_flip = false;
  double min_score = -1;
  std::string output;
  bool operator==(const Parsed&) const = default;
};
Parsed parse(std::vector<std::string> words) {
  Argv argv(std::move(words));
  Args args = argv.args();
  Parsed p;
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--max_images") p.max_images = args.integer(1);
    else if (a == "--no_flip") p.no_flip = args.flag();
    else if (a == "--min_score") p.min_score = args.number();
    else if (a == "--output") p.output = args.value();
    else args.unknown();
  }
  return p;
}
}  // namespace

TEST_CASE("cli: kebab-case spellings and renamed flags map to the snake_case primary name", "[cli]") {
  CHECK(primary_name("--max-images") == "--max_images");
  CHECK(primary_name("--max_images") == "--max_images");
  CHECK(primary_name("--no-flip") == "--no_flip");
  CHECK(primary_name("--out") == "--output");
  CHECK(primary_name("--output") == "--output");
  CHECK(primary_name("--cfg") == "--cfg");
  // not options: values and short switches keep their dashes
  CHECK(primary_name("-h") == "-h");
  CHECK(primary_name("my-file.json") == "my-file.json");
  CHECK(primary_name("-0.5") == "-0.5");
  // every rename leads to a primary name that is itself primary (no chains, no kebab-case)
  for (const auto& alias : hrnet::cli::kRenamedFlags) {
    INFO(alias.old_name << " -> " << alias.primary);
    CHECK(primary_name(alias.old_name) == alias.primary);
    CHECK(primary_name(alias.primary) == alias.primary);
  }
}

TEST_CASE("cli: the primary names and their aliases parse to the same options", "[cli]") {
  const Parsed want{7, true, 0.25, "pose.png"};
  CHECK(parse({"--max_images", "7", "--no_flip", "--min_score", "0.25", "--output", "pose.png"}) == want);
  CHECK(parse({"--max-images", "7", "--no-flip", "--min-score", "0.25", "--out", "pose.png"}) == want);
  CHECK(parse({"--max-images=7", "--no-flip", "--min-score=0.25", "--out=pose.png"}) == want);
  CHECK(parse({"--max_images=7", "--no_flip", "--min_score=0.25", "--output=pose.png"}) == want);
  // switches take absl/TF style values too (tf-hrnet's --eval_only=True)
  CHECK(parse({"--max_images=7", "--no_flip=True", "--min_score=0.25", "--output=pose.png"}) == want);
  CHECK(parse({"--no_flip=true"}).no_flip);
  CHECK(parse({"--no-flip=1"}).no_flip);
  CHECK_FALSE(parse({"--no_flip=False"}).no_flip);
  CHECK_FALSE(parse({"--no-flip=0"}).no_flip);
  // a value that looks like a kebab-case option is left alone
  CHECK(parse({"--output", "my-pose.png"}).output == "my-pose.png");
  CHECK(parse({"--output=--weird-name"}).output == "--weird-name");
}

TEST_CASE("cli: messages name the option as it was typed", "[cli][errors]") {
  Argv typed_kebab({"--max-images", "4x"});
  Args a = typed_kebab.args();
  REQUIRE(a.next());
  CHECK(a.key() == "--max_images");
  CHECK(a.typed() == "--max-images");
  check_throws<ValueError>([&] { a.integer(1); }, "--max-images needs an integer >= 1, got '4x'");

  check_throws<ValueError>([] { parse({"--max_images", "0"}); }, "--max_images needs an integer >= 1, got '0'");
  check_throws<ValueError>([] { parse({"--out"}); }, "--out needs a value");
  check_throws<ValueError>([] { parse({"--min-score", "high"}); }, "--min-score needs a number, got 'high'");
  check_throws<ValueError>([] { parse({"--no-flip=yes"}); }, "--no-flip is a switch: give no value, or true / false");
  check_throws<ValueError>([] { parse({"--colour", "red"}); }, "unknown option '--colour'");
  check_throws<ValueError>([] { parse({"--output", "a.png", "extra"}); }, "unexpected argument 'extra'");
}

// Command-line parsing shared by the programs: options as `--key value` or `--key=value`, typed values
// checked whole (`--batch 4x` is an error), and messages that name the option as it was typed.
//
// One flag style for every program: the snake_case names (`--max_images`, `--no_flip`, `--output`)
// are primary and the only ones the help texts show. So that no command line breaks, every option is
// also accepted in kebab-case (`--max-images`: '-' inside a name reads as '_'), and the flags that were
// renamed keep their old name as an alias (kRenamedFlags). key() always returns the primary name.
#pragma once
#include <array>
#include <exception>
#include <string>
#include <string_view>

#include "hrnet/core/error.hpp"

namespace hrnet::cli {

struct Alias {
  std::string_view old_name, primary;
};
// Flags renamed when the programs were given one flag style; their old names stay accepted.
inline constexpr std::array kRenamedFlags{
    Alias{"--out", "--output"},  // make_synthetic, infer_pose and train_demo used --out for what is --output elsewhere
};

// An option with every '-' after the leading "--" read as '_' (`--max-images` -> `--max_images`).
inline std::string snake_case(std::string_view word) {
  std::string name(word);
  if (name.rfind("--", 0) == 0)
    for (std::size_t i = 2; i < name.size(); ++i)
      if (name[i] == '-') name[i] = '_';
  return name;
}

// The primary spelling of a command-line word: an option ("--...") in snake_case, with a renamed flag
// mapped to its new name; anything else (a value, "-h") is returned unchanged.
inline std::string primary_name(std::string_view word) {
  std::string name = snake_case(word);
  for (const Alias& a : kRenamedFlags)
    if (name == snake_case(a.old_name)) return std::string(a.primary);
  return name;
}

class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}

  // Moves to the next argument; false when none is left.
  bool next() {
    if (++i_ >= argc_) return false;
    typed_ = argv_[i_];
    value_.clear();
    has_value_ = false;
    const auto eq = typed_.find('=');
    if (typed_.rfind("--", 0) == 0 && eq != std::string::npos) {
      value_ = typed_.substr(eq + 1);
      typed_.resize(eq);
      has_value_ = true;
    }
    key_ = primary_name(typed_);
    return true;
  }
  // The option's primary name (`--max_images` also for `--max-images`); compare against this.
  const std::string& key() const { return key_; }
  // The option as the user spelt it (without any "=value"); what messages name.
  const std::string& typed() const { return typed_; }

  // The option's value: after '=' or the next argument.
  std::string value() {
    if (has_value_) return value_;
    if (i_ + 1 >= argc_) throw ValueError(typed_ + " needs a value (see --help)");
    return argv_[++i_];
  }
  long long integer(long long min) {
    const std::string v = value();
    std::size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size() || n < min)
      throw ValueError(typed_ + " needs an integer >= " + std::to_string(min) + ", got '" + v + "'");
    return n;
  }
  double number() {
    const std::string v = value();
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size()) throw ValueError(typed_ + " needs a number, got '" + v + "'");
    return x;
  }
  // A switch: `--flag=...` is an error.
  // A switch: "--x" is true; "--x=true|True|1" and "--x=false|False|0" as absl/TF flags take them.
  bool flag() const {
    if (!has_value_) return true;
    if (value_ == "true" || value_ == "True" || value_ == "1") return true;
    if (value_ == "false" || value_ == "False" || value_ == "0") return false;
    throw ValueError(typed_ + " is a switch: give no value, or true / false");
  }
  [[noreturn]] void unknown() const {
    if (typed_.rfind('-', 0) == 0) throw ValueError("unknown option '" + typed_ + "' (see --help)");
    throw ValueError("unexpected argument '" + typed_ + "' (see --help)");
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string typed_, key_, value_;
  bool has_value_ = false;
};

}  // namespace hrnet::cli

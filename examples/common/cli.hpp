// Command-line parsing shared by the tools: options as `--key value` or `--key=value`, typed values
// checked whole (`--batch 4x` is an error), and messages that name the option.
#pragma once
#include <exception>
#include <string>

#include "hrnet/core/error.hpp"

namespace hrnet::cli {

class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}

  // Moves to the next option; false when none is left.
  bool next() {
    if (++i_ >= argc_) return false;
    key_ = argv_[i_];
    value_.clear();
    has_value_ = false;
    const auto eq = key_.find('=');
    if (key_.rfind("--", 0) == 0 && eq != std::string::npos) {
      value_ = key_.substr(eq + 1);
      key_.resize(eq);
      has_value_ = true;
    }
    return true;
  }
  const std::string& key() const { return key_; }

  // The option's value: after '=' or the next argument.
  std::string value() {
    if (has_value_) return value_;
    if (i_ + 1 >= argc_) throw ValueError(key_ + " needs a value (see --help)");
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
      throw ValueError(key_ + " needs an integer >= " + std::to_string(min) + ", got '" + v + "'");
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
    if (v.empty() || used != v.size()) throw ValueError(key_ + " needs a number, got '" + v + "'");
    return x;
  }
  // A switch: `--flag=...` is an error.
  bool flag() const {
    if (has_value_) throw ValueError(key_ + " takes no value");
    return true;
  }
  [[noreturn]] void unknown() const { throw ValueError("unknown argument '" + key_ + "' (see --help)"); }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string key_, value_;
  bool has_value_ = false;
};

}  // namespace hrnet::cli

// A CSV training log: one header line, one row per call, each row flushed so a killed run keeps
// everything it logged. Numbers are written in their shortest round-trip form (std::to_chars):
// reading the file back with strtod / pandas gives the same doubles bit for bit.
//
//   hrnet::train::CsvLog log("output/log.csv", {"epoch", "iter", "loss", "lr"}, /*append=*/resume);
//   log.row({epoch, iter, loss, lr});
//   log.row({"val", iter, ap, "-"});       // cells may mix strings and numbers
#pragma once
#include <charconv>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ranges>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "hrnet/core/error.hpp"

namespace hrnet::train {

// One CSV cell: a number (kept with its type, so integers print without a decimal point) or text.
class CsvCell {
 public:
  template <class N>
    requires(std::is_arithmetic_v<N> && !std::is_same_v<N, bool> && !std::is_same_v<N, char>)
  CsvCell(N v) : text_(format(v)) {}  // implicit, so rows can be written as brace lists
  CsvCell(bool b) : text_(b ? "1" : "0") {}
  CsvCell(std::string s) : text_(quote(s)) {}
  CsvCell(std::string_view s) : text_(quote(s)) {}
  CsvCell(const char* s) : text_(quote(s)) {}

  // The cell as it appears in the file (quoted when needed).
  const std::string& text() const { return text_; }

  // Shortest text that parses back to exactly `v`; "nan", "inf", "-inf" for non-finite values.
  template <class N>
  static std::string format(N v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  }
  // RFC 4180: a field holding a comma, quote or line break is quoted, inner quotes doubled.
  static std::string quote(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
    std::string q = "\"";
    for (char c : s) {
      if (c == '"') q.push_back('"');
      q.push_back(c);
    }
    q.push_back('"');
    return q;
  }

 private:
  std::string text_;
};

class CsvLog {
 public:
  // Opens `path` (creating its parent directory). append = false: truncates and writes the header.
  // append = true: writes the header only when the file is missing or empty; an existing header
  // must equal `columns` exactly, otherwise IoError names both headers (a resumed run that logs
  // other columns would make the file unreadable). Throws IoError when the file cannot be opened
  // and ValueError for an empty column list.
  CsvLog(std::filesystem::path path, std::vector<std::string> columns, bool append)
      : path_(std::move(path)), columns_(std::move(columns)) {
    HRNET_CHECK(!columns_.empty(), ValueError, "CsvLog " << path_ << ": no columns");
    for (const auto& c : columns_)  // the header must stay one line to be checked on append
      HRNET_CHECK(c.find_first_of("\r\n") == std::string::npos, ValueError,
                  "CsvLog " << path_ << ": column name with a line break: '" << c << "'");
    std::string header;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (i) header += ',';
      header += CsvCell::quote(columns_[i]);
    }

    if (path_.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path_.parent_path(), ec);
      HRNET_CHECK(!ec, IoError, "CsvLog: cannot create directory " << path_.parent_path() << ": " << ec.message());
    }
    bool write_header = true, needs_newline = false;
    if (append) {
      std::ifstream in(path_, std::ios::binary);
      std::string first;
      if (in && std::getline(in, first)) {
        if (!first.empty() && first.back() == '\r') first.pop_back();
        HRNET_CHECK(first == header, IoError,
                    "CsvLog: cannot append to " << path_ << ": its header is '" << first
                                                << "' but this log has columns '" << header
                                                << "'; use another file or the same columns");
        write_header = false;
        // A run killed in the middle of a row left it unterminated; start ours on a new line.
        in.clear();
        in.seekg(-1, std::ios::end);
        needs_newline = in.get() != '\n';
      }
    }
    out_.open(path_, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    HRNET_CHECK(out_.is_open(), IoError, "CsvLog: cannot open " << path_ << " for writing");
    if (needs_newline) out_ << '\n';
    if (write_header) out_ << header << '\n';
    commit();
  }

  // A row of cells: numbers and strings mixed, e.g. log.row({"val", 3, 0.5}).
  void row(const std::vector<CsvCell>& cells) {
    check_width(cells.size());
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) line += ',';
      line += cells[i].text();
    }
    line.push_back('\n');
    out_ << line;  // one write per row, then flush: no half rows left in our buffer
    commit();
  }

  // A row of numbers from any range (std::vector<double>, std::array<float, N>, ...).
  template <std::ranges::input_range R>
    requires std::is_arithmetic_v<std::ranges::range_value_t<R>>
  void row(const R& values) {
    std::vector<CsvCell> cells;
    for (const auto& v : values) cells.emplace_back(v);
    row(cells);
  }

  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::string>& columns() const { return columns_; }

 private:
  void check_width(std::size_t n) const {
    HRNET_CHECK(n == columns_.size(), ValueError,
                "CsvLog " << path_ << ": row has " << n << " cells but the log has " << columns_.size() << " columns");
  }
  void commit() {
    out_.flush();
    HRNET_CHECK(out_.good(), IoError, "CsvLog: write to " << path_ << " failed");
  }

  std::filesystem::path path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

}  // namespace hrnet::train

// Reading JSON from user files without trusting it: one parser entry point with a nesting limit,
// messages that quote values without recursing into them, and checked number conversion.
//
// Every JSON loader (COCO annotations, COCO results, the safetensors header) goes through
// parse_json_text, so that:
//   - nesting deeper than kMaxJsonDepth is refused by a byte scan before the parser runs (the
//     destructor, copy and dump() of a nlohmann value recurse in some versions of the library, and a
//     200 KB file of '[' would overflow the stack; a parser callback would cost 5x the parse time);
//   - every nlohmann exception (a syntax error, but also out_of_range 406 for a number such as 1e999)
//     becomes an IoError that names the file, and so does running out of memory while parsing;
//   - "NaN" / "Infinity" (written by Python's json.dump, but not JSON) are named as such.
// json_brief / json_desc print a value for an error message in bounded time and stack: scalars as
// JSON (at most 40 characters), arrays and objects as "array of N" / "object of N".
// json_to_integer converts a JSON number to an integer in a range without undefined behaviour
// (nlohmann's get<int>() casts an out-of-range double unchecked).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hrnet::io {

// Deepest nesting of arrays/objects accepted in a JSON file (COCO files nest 4 deep).
inline constexpr int kMaxJsonDepth = 512;

// An optional nlohmann parser callback (e.g. the safetensors reader's duplicate-key check); false
// discards the value. Without one the faster plain parser runs.
using JsonParseHook = std::function<bool(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed)>;

// Parses `text`. Any failure throws IoError "<context>: <what went wrong>", where `context` names the
// file (e.g. "malformed JSON in results file a.json"); the depth limit reads "nesting deeper than 512
// levels of arrays/objects at byte N".
nlohmann::json parse_json_text(std::string_view text, const std::string& context, const JsonParseHook& hook = nullptr);

// A value for a message, never recursing: `3`, `"abc"` (escaped, cut to 40 characters), `true`,
// `null`, `array of 2`, `object of 1`.
std::string json_brief(const nlohmann::json& v);
// The type name, then json_brief for scalars: `number 3`, `string "abc"`, `array of 2`, `object of 1`.
std::string json_desc(const nlohmann::json& v);

// Which JSON values json_to_integer accepts.
enum class JsonIntegers {
  Exact,    // integers only (a JSON number written without fraction or exponent)
  Numeric,  // also floats (truncated toward zero, as nlohmann's get<int>) and booleans (0/1)
};

// The value of `v` as an integer in [lo, hi]; nullopt with `*problem` set (e.g. "is a string",
// "1e+10 is out of range [1, 32768]", "is not finite") otherwise.
std::optional<std::int64_t> json_to_integer(const nlohmann::json& v, std::int64_t lo, std::int64_t hi,
                                            JsonIntegers accept, std::string* problem);

}  // namespace hrnet::io

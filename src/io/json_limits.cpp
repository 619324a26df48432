// Reading JSON from user files (see hrnet/io/json_limits.hpp).
#include "hrnet/io/json_limits.hpp"

#include <cmath>
#include <new>
#include <sstream>

#include "hrnet/core/error.hpp"

namespace hrnet::io {

namespace {
// Where the nesting of arrays/objects (outside strings) first exceeds `max_depth`; npos if never.
// A byte scan, not a parser callback: nlohmann's callback parser is about 5x slower than its plain
// one (a 240 MB COCO train file would take a minute).
std::size_t too_deep_at(std::string_view t, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}
}  // namespace

nlohmann::json parse_json_text(std::string_view text, const std::string& context, const JsonParseHook& hook) {
  using json = nlohmann::json;
  // nlohmann's parser is iterative; the limit protects what comes after it (destruction, copies and
  // dump() recurse in some versions), and is checked before any value is built.
  if (const std::size_t at = too_deep_at(text, kMaxJsonDepth); at != std::string_view::npos)
    HRNET_THROW(IoError, context << ": nesting deeper than " << kMaxJsonDepth << " levels of arrays/objects at byte "
                                 << at << " (the limit hrnet::io::kMaxJsonDepth)");
  try {
    if (!hook) return json::parse(text.begin(), text.end());
    return json::parse(text.begin(), text.end(), json::parser_callback_t(hook), /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    // Python's json.dump writes NaN and Infinity, which are not JSON: say so rather than "invalid literal".
    std::string hint;
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    for (std::size_t p = at >= 1 ? at - 1 : at; p <= at && p < text.size(); ++p)
      if (text.compare(p, 3, "NaN") == 0 || text.compare(p, 8, "Infinity") == 0)
        hint = " (a non-finite number: NaN and Infinity are not valid JSON)";
    HRNET_THROW(IoError, context << ": " << e.what() << hint);
  } catch (const json::exception& e) {  // e.g. out_of_range 406: a number too large for a double (1e999)
    HRNET_THROW(IoError, context << ": " << e.what());
  } catch (const std::bad_alloc&) {
    HRNET_THROW(IoError, context << ": out of memory while parsing " << text.size() << " bytes of JSON");
  }
}

std::string json_brief(const nlohmann::json& v) {
  using json = nlohmann::json;
  constexpr std::size_t kMax = 40;
  if (v.is_array()) return "array of " + std::to_string(v.size());
  if (v.is_object()) return "object of " + std::to_string(v.size());
  std::string s;
  if (v.is_string()) {
    // cut before escaping so a long string costs nothing; a cut UTF-8 sequence is replaced, not thrown on
    const std::string& str = v.get_ref<const std::string&>();
    s = json(str.substr(0, 2 * kMax)).dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    s = v.dump();  // a number, boolean, null or binary value: never nested
  }
  if (s.size() > kMax) s = s.substr(0, kMax - 3) + "...";
  return s;
}

std::string json_desc(const nlohmann::json& v) {
  if (v.is_array() || v.is_object()) return json_brief(v);
  return std::string(v.type_name()) + " " + json_brief(v);
}

std::optional<std::int64_t> json_to_integer(const nlohmann::json& v, std::int64_t lo, std::int64_t hi,
                                            JsonIntegers accept, std::string* problem) {
  auto fail = [&](const std::string& why) -> std::optional<std::int64_t> {
    if (problem) *problem = why;
    return std::nullopt;
  };
  auto range = [&]() {
    std::ostringstream s;
    s << json_brief(v) << " is out of range [" << lo << ", " << hi << "]";
    return s.str();
  };
  const bool numeric = accept == JsonIntegers::Numeric;
  std::int64_t x = 0;
  if (v.is_number_unsigned()) {
    const std::uint64_t u = v.get<std::uint64_t>();
    if (hi < 0 || u > static_cast<std::uint64_t>(hi)) return fail(range());
    x = static_cast<std::int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<std::int64_t>();
  } else if (v.is_number_float()) {
    if (!numeric) return fail("is not an integer (" + json_brief(v) + ")");
    const double d = v.get<double>();
    if (!std::isfinite(d)) return fail("is not finite (" + json_brief(v) + ")");
    const double t = std::trunc(d);
    // [-2^63, 2^63) converts to int64 exactly; beyond, the cast would be undefined
    if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0)) return fail(range());
    x = static_cast<std::int64_t>(t);
  } else if (v.is_boolean() && numeric) {
    x = v.get<bool>() ? 1 : 0;
  } else {
    return fail(std::string("is ") + (v.is_array() || v.is_object() ? "an " : "a ") + v.type_name() +
                (numeric ? ", not a number" : ", not an integer"));
  }
  if (x < lo || x > hi) return fail(range());
  return x;
}

}  // namespace hrnet::io

// Typed exceptions and the checking macros that raise them.
// Every message carries the failing expression or call, file:line and a human explanation.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace hrnet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { using Error::Error; };     // incompatible shapes or sizes
class DTypeError : public Error { using Error::Error; };     // unsupported or mismatched dtype
class ValueError : public Error { using Error::Error; };     // bad argument value
class IoError : public Error { using Error::Error; };        // file missing, unreadable or malformed
class StateDictError : public Error { using Error::Error; }; // missing/unexpected/mis-shaped keys
class CudaError : public Error { using Error::Error; };
class CudnnError : public Error { using Error::Error; };
class CublasError : public Error { using Error::Error; };
class NcclError : public Error { using Error::Error; };
class MpiError : public Error { using Error::Error; };

namespace detail {
inline std::string where(const char* file, int line) {
  std::ostringstream s;
  s << file << ':' << line;
  return s.str();
}
}  // namespace detail
}  // namespace hrnet

// HRNET_CHECK(cond, ExceptionType, message-stream-expression)
//   HRNET_CHECK(x.rank() == 4, ShapeError, "conv2d: input must be 4-D, got " << x.shape());
#define HRNET_CHECK(cond, ErrType, msg)                                                   \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::ostringstream hrnet_check_os_;                                                 \
      hrnet_check_os_ << msg << " [check `" #cond "` failed at "                         \
                      << ::hrnet::detail::where(__FILE__, __LINE__) << "]";              \
      throw ::hrnet::ErrType(hrnet_check_os_.str());                                      \
    }                                                                                     \
  } while (0)

#define HRNET_THROW(ErrType, msg)                                                         \
  do {                                                                                    \
    std::ostringstream hrnet_check_os_;                                                   \
    hrnet_check_os_ << msg << " [at " << ::hrnet::detail::where(__FILE__, __LINE__) << "]"; \
    throw ::hrnet::ErrType(hrnet_check_os_.str());                                        \
  } while (0)

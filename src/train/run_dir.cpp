// The output folder and the resume decision (see hrnet/train/run_dir.hpp).
#include "hrnet/train/run_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "hrnet/core/error.hpp"

namespace hrnet::train {

RunDir open_run_dir(const std::filesystem::path& dir, const ResumePolicy& policy) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  HRNET_CHECK(!ec && fs::is_directory(dir), IoError,
              "output folder " << dir.string() << " cannot be created: " << (ec ? ec.message() : "not a directory"));
  // A folder that exists but cannot be written (read-only mount, permissions) would otherwise fail
  // only at the first log line or checkpoint, after the model and the data were set up: probe it.
  const fs::path probe = dir / (".hrnet_write_check." + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  HRNET_CHECK(fd >= 0, IoError, "output folder " << dir.string() << " is not writable: " << std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  RunDir r;
  r.dir = dir;
  r.checkpoint = dir / "checkpoint.safetensors";
  r.resume_from = r.checkpoint;
  if (policy.requested && !policy.checkpoint.empty()) r.resume_from = policy.checkpoint;
  if (policy.requested && !fs::exists(r.resume_from))
    HRNET_THROW(IoError, "--resume: no checkpoint at " << r.resume_from.string());
  r.resuming = fs::exists(r.resume_from) && (policy.requested || policy.automatic);
  return r;
}

}  // namespace hrnet::train

// The progress line's figures (see hrnet/train/progress.hpp).
#include "hrnet/train/progress.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>

namespace hrnet::train {

std::string hms(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<long long>(s + 0.5);
  std::ostringstream o;
  o << t / 3600 << ":" << std::setw(2) << std::setfill('0') << (t / 60) % 60 << ":" << std::setw(2) << t % 60;
  return o.str();
}

ProgressMeter::ProgressMeter(std::int64_t total_steps)
    : total_steps_(total_steps), run_t0_(Clock::now()), window_t0_(run_t0_) {}

void ProgressMeter::data_waited(double seconds) { window_wait_ += seconds; }

void ProgressMeter::step_done(std::int64_t images) {
  ++steps_;
  window_images_ += images;
}

ProgressMeter::Window ProgressMeter::take_window() {
  const auto now = Clock::now();
  const double window_s = std::chrono::duration<double>(now - window_t0_).count();
  const double run_s = std::chrono::duration<double>(now - run_t0_).count();
  Window w;
  w.images_per_second = window_s > 0 ? static_cast<double>(window_images_) / window_s : 0;
  w.data_wait_share = window_s > 0 ? window_wait_ / window_s : 0;
  w.eta_seconds = steps_ > 0 ? run_s / static_cast<double>(steps_) * static_cast<double>(total_steps_ - steps_) : -1;
  window_t0_ = now;
  window_images_ = 0;
  window_wait_ = 0;
  return w;
}

}  // namespace hrnet::train

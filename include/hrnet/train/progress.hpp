// The progress line of a training run: images per second and the share of time spent waiting for
// data over the window since the last line, and the ETA from the mean step time of this run.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace hrnet::train {

// h:mm:ss ("?" for a negative or non-finite number of seconds).
std::string hms(double seconds);

class ProgressMeter {
 public:
  using Clock = std::chrono::steady_clock;
  // total_steps: steps this run will take from now on (for the ETA).
  explicit ProgressMeter(std::int64_t total_steps);

  void data_waited(double seconds);     // time the step loop spent waiting for the loader
  void step_done(std::int64_t images);  // one optimizer step on `images` images

  struct Window {
    double images_per_second = 0;
    double data_wait_share = 0;  // 0..1
    double eta_seconds = 0;
  };
  // The figures since the previous call (or the start), then starts a new window.
  Window take_window();

  std::int64_t steps_done() const { return steps_; }

 private:
  std::int64_t total_steps_;
  Clock::time_point run_t0_, window_t0_;
  std::int64_t steps_ = 0, window_images_ = 0;
  double window_wait_ = 0;
};

}  // namespace hrnet::train

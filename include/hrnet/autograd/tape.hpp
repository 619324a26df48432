// The tape: a per-thread list of backward closures recorded in forward order. backward() runs them
// in reverse and destroys each one as soon as it has run, which frees the activations it saved.
#pragma once
#include <functional>
#include <vector>

namespace hrnet::autograd {

class Tape {
 public:
  using Entry = std::function<void()>;
  void push(Entry e) { entries_.push_back(std::move(e)); }
  // Runs every recorded backward in reverse order and empties the tape.
  void run_backward() {
    while (!entries_.empty()) {
      Entry e = std::move(entries_.back());
      entries_.pop_back();
      e();
    }  // e (and what it saved) dies here, before the next entry runs
  }
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
};

inline Tape& tape() {
  thread_local Tape t;
  return t;
}

inline bool& grad_mode_flag() {
  thread_local bool enabled = true;
  return enabled;
}
inline bool grad_enabled() { return grad_mode_flag(); }

// While alive, ops record nothing: inference and evaluation, like torch.no_grad().
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_mode_flag()) { grad_mode_flag() = false; }
  ~NoGradGuard() { grad_mode_flag() = prev_; }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace hrnet::autograd

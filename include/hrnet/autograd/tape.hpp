// The tape: a per-thread list of backward closures recorded in forward order.
//
// Each entry owns the output it was recorded for and knows whether it can still be needed: once
// the entry is the only holder of that output (no user handle, no later op's entry captured it)
// and no gradient has arrived, the output can never receive one, and the entry is dropped together
// with the activations it saved. This keeps memory bounded when a forward pass runs with grad
// mode on but no backward follows (an eval loop that forgot NoGradGuard).
//
// run_backward() walks the entries in reverse. An entry whose output received a gradient runs and
// is destroyed at once (freeing what it saved); an entry whose output is gone is dropped; an entry
// whose output is alive but received no gradient is kept, so a second, independent graph recorded
// on the same thread can be backpropagated later. A graph is backpropagated once: to combine
// losses that share a graph, add them (ops::add) and call backward on the sum.
#pragma once
#include <memory>
#include <utility>
#include <vector>

namespace hrnet::autograd {

class Tape {
 public:
  enum class Status { Ran, Dropped, Kept };
  struct Node {
    virtual ~Node() = default;
    virtual Status run() = 0;          // runs the backward if the output has a gradient
    virtual bool alive() const = 0;    // whether a gradient can still reach the output
  };
  using Entry = std::unique_ptr<Node>;

  void push(Entry e) {
    prune();
    entries_.push_back(std::move(e));
  }
  void run_backward() {
    std::vector<Entry> kept;
    try {
      while (!entries_.empty()) {
        Entry e = std::move(entries_.back());
        entries_.pop_back();
        if (e->run() == Status::Kept) kept.push_back(std::move(e));
      }  // e (and what it saved) dies here, before the next entry runs
    } catch (...) {
      entries_.clear();  // a half-run graph must not leak gradients into a later backward
      throw;
    }
    entries_.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
    prune();
  }
  // Drops entries whose outputs no longer exist, newest first (dropping one may release the
  // output of the one before it).
  void prune() {
    while (!entries_.empty() && !entries_.back()->alive()) entries_.pop_back();
  }
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }
  // Moves all entries out (and back in): lets a tool such as gradcheck use the tape without
  // touching a graph the caller has pending.
  std::vector<Entry> release() { return std::exchange(entries_, {}); }
  void restore(std::vector<Entry> saved) { entries_ = std::move(saved); }

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

// The output folder of a training run and the decision to start fresh or resume.
//
// Resuming needs a checkpoint: an explicit request (--resume, or TRAIN.RESUME) without one is an
// error; AUTO_RESUME continues from the folder's checkpoint when there is one and starts fresh
// otherwise. TRAIN.CHECKPOINT names another file to resume from (explicit requests only).
#pragma once
#include <filesystem>

namespace hrnet::train {

struct ResumePolicy {
  bool requested = false;             // --resume or TRAIN.RESUME
  bool automatic = false;             // AUTO_RESUME
  std::filesystem::path checkpoint;   // TRAIN.CHECKPOINT (empty: the folder's checkpoint)
};

struct RunDir {
  std::filesystem::path dir;          // created
  std::filesystem::path checkpoint;   // where this run writes its checkpoint (dir/checkpoint.safetensors)
  bool resuming = false;
  std::filesystem::path resume_from;  // the checkpoint to continue from, when resuming

  std::filesystem::path file(const char* name) const { return dir / name; }
};

// Creates the folder, checks that a file can be created in it, and decides; throws IoError naming the
// folder (cannot be created, not writable) or the missing checkpoint, before any training starts.
RunDir open_run_dir(const std::filesystem::path& dir, const ResumePolicy& policy);

}  // namespace hrnet::train

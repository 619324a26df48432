// train_pose: HigherHRNet bottom-up pose training from an official experiment file.
//   train_pose --cfg configs/coco/w32_512_adam_lr1e-3.yaml --datadir=$COCO --max_epochs=2
// The recipe, checkpoints, resume and logs are described in hrnet/pose/train_pose.hpp.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli.hpp"
#include "hrnet/core/error.hpp"
#include "hrnet/pose/train_pose.hpp"

using namespace hrnet;

namespace {
void usage() {
  std::puts(
      "usage: train_pose --cfg FILE --datadir DIR [--max_epochs N] [--amp] [--dist] [--device cpu|cuda]\n"
      "                  [--output DIR] [--seed N] [--resume] [--workers N] [--print_freq N] [--batch N]\n"
      "                  [--val_every N] [--val_images N]\n"
      "Trains HigherHRNet on a COCO-layout dataset (DIR/annotations/person_keypoints_<split>.json with the\n"
      "images in DIR/<split>/ or DIR/images/<split>/), following the official recipe of the config file.\n"
      "  --cfg         official experiment YAML (e.g. configs/coco/w32_512_adam_lr1e-3.yaml)\n"
      "  --datadir     dataset root; overrides DATASET.ROOT\n"
      "  --max_epochs  overrides TRAIN.END_EPOCH (the epoch to stop at, counting from 0)\n"
      "  --output      output folder (default OUTPUT_DIR/<dataset>/<model>/<config name>): checkpoint.safetensors\n"
      "                after every epoch, final_state.safetensors, train_log.csv, epoch_log.csv, tb/ (TensorBoard)\n"
      "  --resume      continue from the output folder's checkpoint (error if there is none); with\n"
      "                AUTO_RESUME: true in the config an existing checkpoint is resumed without it\n"
      "  --seed        seed of the initialisation, shuffling and augmentation (default 0); with a fixed\n"
      "                OMP_NUM_THREADS a CPU run is bit-for-bit repeatable\n"
      "  --workers, --print_freq, --batch   override WORKERS, PRINT_FREQ, TRAIN.IMAGES_PER_GPU\n"
      "  --val_every   evaluate (COCO keypoint AP) on DATASET.TEST every N epochs and at the end, and\n"
      "                keep the best weights as model_best.safetensors (default 0: no validation, as the\n"
      "                official trainer); --val_images N limits it to the first N images\n"
      "  --device      cpu (default) or cuda (the first GPU; needs a CUDA build), both in fp32\n"
      "  --amp, --dist mixed precision and multi-GPU data parallel training are not implemented yet: both\n"
      "                fail with a message saying so\n"
      "Options may also be spelt in kebab-case (--max-epochs).\n"
      "Make a small dataset to try it: make_synthetic pose --output DIR --images 64");
}
}  // namespace

int main(int argc, char** argv) try {
  // Loader threads share the cores with the OpenMP compute threads: OpenMP's default spin-waiting
  // would steal their time, so yield instead (unless the user chose otherwise).
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  // Over a file-size limit (ulimit -f) a write must fail with EFBIG, which the checkpoint writer
  // reports (naming the file, the previous checkpoint left intact), not kill the run with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  pose::PoseTrainOptions o;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") o.cfg = args.value();
    else if (a == "--datadir") o.datadir = args.value();
    else if (a == "--max_epochs") o.max_epochs = static_cast<int>(args.integer(0));
    else if (a == "--device") o.device = args.value();
    else if (a == "--output") o.output = args.value();
    else if (a == "--seed") o.seed = static_cast<std::uint64_t>(args.integer(0)), o.seed_given = true;
    else if (a == "--workers") o.workers = static_cast<int>(args.integer(0));
    else if (a == "--print_freq") o.print_freq = static_cast<int>(args.integer(1));
    else if (a == "--batch") o.batch_size = static_cast<int>(args.integer(1));
    else if (a == "--val_every") o.val_every = static_cast<int>(args.integer(0));
    else if (a == "--val_images") o.val_images = args.integer(1);
    else if (a == "--resume") o.resume = args.flag();
    else if (a == "--amp") o.amp = args.flag();
    else if (a == "--dist") o.dist = args.flag();
    else args.unknown();
  }
  if (o.cfg.empty()) throw ValueError("--cfg FILE is required (see --help)");
  const pose::PoseTrainResult r = pose::train_pose(o);
  if (r.best_ap >= 0) std::printf("best validation AP %.4f\n", r.best_ap);
  if (r.skipped_images) std::printf("%lld unreadable images were skipped\n", static_cast<long long>(r.skipped_images));
  return 0;
} catch (const std::exception& e) {
  std::fflush(stdout);
  std::fprintf(stderr, "train_pose: error: %s\n", e.what());
  return 1;
}

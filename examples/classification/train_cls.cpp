// train_cls: HRNet-C ImageNet classification training from an official experiment file.
//   train_cls --cfg configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml --datadir DIR
//   train_cls --cfg ... --datadir DIR --testModel output/imagenet/<cfg>/final_state.safetensors
// The recipe, checkpoints, resume and logs are described in hrnet/classification/train_cls.hpp.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli.hpp"
#include "hrnet/classification/train_cls.hpp"
#include "hrnet/core/error.hpp"

using namespace hrnet;

namespace {
void usage() {
  std::puts(
      "usage: train_cls --cfg FILE --datadir DIR [--testModel FILE] [--max_epochs N] [--device cpu|cuda]\n"
      "                 [--output DIR] [--seed N] [--resume] [--workers N] [--print_freq N] [--batch N]\n"
      "                 [--batch_eval N] [--val_every N] [--label_smoothing X] [--amp] [--dist]\n"
      "Trains HRNet-C (MODEL.NAME cls_hrnet) on image folders as HRNet-Image-Classification's tools/train.py:\n"
      "SGD with the config's TRAIN.* (Nesterov momentum, weight decay, MultiStepLR per epoch),\n"
      "RandomResizedCrop + flip, validation (loss, top-1, top-5 over every image) after every epoch.\n"
      "  --cfg         official experiment YAML (e.g. configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml)\n"
      "  --datadir     images in DIR/imagenet/images/{train,val} (as the official --dataDir) or DIR/{train,val},\n"
      "                one folder per class (torchvision ImageFolder; labels are the sorted folder index)\n"
      "  --testModel   evaluate these weights (final_state/model_best/checkpoint .safetensors) on the whole\n"
      "                validation folder and print loss, top-1 and top-5; no training\n"
      "  --max_epochs  overrides TRAIN.END_EPOCH (the epoch to stop at, counting from 0)\n"
      "  --output      output folder (default OUTPUT_DIR/<dataset>/<config name>): checkpoint.safetensors after\n"
      "                every epoch, model_best.safetensors, final_state.safetensors, train_log.csv, epoch_log.csv, tb/\n"
      "  --resume      continue from the output folder's checkpoint (error if there is none); TRAIN.RESUME: true\n"
      "                (the official yamls) resumes an existing checkpoint without it\n"
      "  --seed        seed of the initialisation, shuffling and augmentation (default 0); with a fixed\n"
      "                OMP_NUM_THREADS a CPU run is bit-for-bit repeatable and a resumed run equals an uninterrupted one\n"
      "  --workers, --print_freq, --batch, --batch_eval   override WORKERS, PRINT_FREQ, TRAIN.BATCH_SIZE_PER_GPU,\n"
      "                TEST.BATCH_SIZE_PER_GPU\n"
      "  --val_every   validate every N epochs and at the end (default 1, as the official trainer; 0: never)\n"
      "  --label_smoothing  cross-entropy label smoothing (default 0: the official loss)\n"
      "  --device      cpu (default) or cuda (the first GPU; needs a CUDA build), both in fp32\n"
      "  --amp, --dist mixed precision and multi-GPU data parallel training are not implemented yet: both\n"
      "                fail with a message saying so\n"
      "The TF port's command line (--net_cfg, --data_path with TFRecord shards) is not implemented yet.\n"
      "Options may also be spelt in kebab-case (--max-epochs); --dataDir and --test_model are accepted too.\n"
      "Make a small dataset to try it: make_synthetic cls --output DIR --format folder --classes 4 --images 32");
}
}  // namespace

int main(int argc, char** argv) try {
  // Loader threads share the cores with the OpenMP compute threads: let OpenMP yield.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  classification::ClsTrainOptions o;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") o.cfg = args.value();
    else if (a == "--datadir" || a == "--dataDir") o.datadir = args.value();
    else if (a == "--testModel" || a == "--test_model") o.test_model = args.value();
    else if (a == "--max_epochs") o.max_epochs = static_cast<int>(args.integer(0));
    else if (a == "--device") o.device = args.value();
    else if (a == "--output") o.output = args.value();
    else if (a == "--seed") o.seed = static_cast<std::uint64_t>(args.integer(0)), o.seed_given = true;
    else if (a == "--workers") o.workers = static_cast<int>(args.integer(0));
    else if (a == "--print_freq") o.print_freq = static_cast<int>(args.integer(1));
    else if (a == "--batch") o.batch_size = static_cast<int>(args.integer(1));
    else if (a == "--batch_eval") o.batch_size_eval = static_cast<int>(args.integer(1));
    else if (a == "--val_every") o.val_every = static_cast<int>(args.integer(0));
    else if (a == "--label_smoothing") o.label_smoothing = args.number();
    else if (a == "--resume") o.resume = args.flag();
    else if (a == "--amp") o.amp = args.flag();
    else if (a == "--dist") o.dist = args.flag();
    else if (a == "--net_cfg" || a == "--data_path" || a == "--resume_training" || a == "--eval_only" ||
             a == "--enbl_multi_gpu" || a == "--batch_size" || a == "--batch_size_eval")
      throw ValueError(args.typed() +
                       ": the TF port's command line (--net_cfg CFG --data_path TFRECORD_DIR ...) is not implemented yet; "
                       "use --cfg YAML --datadir IMAGE_FOLDERS");
    else args.unknown();
  }
  if (o.cfg.empty()) throw ValueError("--cfg FILE is required (see --help)");
  const classification::ClsTrainResult r = classification::train_cls(o);
  if (r.evaluated) std::printf("top1 %.3f top5 %.3f loss %.4f on %lld images\n", r.top1, r.top5, r.loss, static_cast<long long>(r.images));
  else if (r.best_top1 >= 0) std::printf("best validation top1 %.3f\n", r.best_top1);
  if (r.skipped_images) std::printf("%lld unreadable images were skipped\n", static_cast<long long>(r.skipped_images));
  return 0;
} catch (const std::exception& e) {
  std::fflush(stdout);
  std::fprintf(stderr, "train_cls: error: %s\n", e.what());
  return 1;
}
